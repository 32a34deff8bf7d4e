import ClusterModel
import Foundation
import ProcessRuntime
import ServiceSupport
import ShardStore
import Synchronization
import VectorIndex
import VectorMath
import Wire

/// The move driver: takes the journaled move from step to step until it is done. Every step is
/// recorded in the catalog before it acts and may be repeated after a crash: begin (workers
/// learn both maps; writes go to both owners), copy (pages of encoded entries, source → target,
/// each page atomic with respect to writes), verify (counts and a digest per list, source
/// against target), flip (the next map is put in force in one transaction), delete (once the
/// old map's searches are over, every worker drops what it no longer owns), done.
///
/// It owns the driver thread, the plan shown by `cluster status`, the step timings, and the
/// placement pushes (its own and the health loop's go one at a time). Locks: it takes `writes`
/// exclusively for a step change and a verify, then `placementPushes` around a push; `lastPlan`
/// and `stepStarted` are leaves (see the lock order in Coordinator.swift).
final class MoveDriver: Sendable {
    let shardCalls: ShardCalls
    private let catalog: CatalogDatabase
    private let states: WorkerStates
    /// Shared by adds and deletes, exclusive here (see `Coordinator.writes`).
    private let writes: ReadWriteLock
    private let codebook: (version: UInt64, indexFile: [UInt8])
    /// The trained, empty index: code size and dimension to check pages by.
    private let template: IVFPQIndex
    private let hooks: CoordinatorHooks
    private let clock: any MonotonicClock
    private let log: @Sendable (String) -> Void
    /// Serialises placement pushes (the health loop's and this driver's).
    private let placementPushes = Mutex<Void>(())
    private let running = Atomic<Bool>(false)
    /// The flows of the move in progress, by (source, target), as counted at its start.
    let lastPlan = Mutex<[Flow]>([])
    /// When the move's current step began (for the log's step durations).
    private let stepStarted = Mutex<DispatchTime?>(nil)
    private let stopping = Atomic<Bool>(false)

    private var directory: ShardDirectory { shardCalls.directory }

    init(shardCalls: ShardCalls, catalog: CatalogDatabase, states: WorkerStates, writes: ReadWriteLock,
         codebook: (version: UInt64, indexFile: [UInt8]), template: IVFPQIndex, hooks: CoordinatorHooks,
         clock: any MonotonicClock, log: @escaping @Sendable (String) -> Void) {
        self.shardCalls = shardCalls
        self.catalog = catalog
        self.states = states
        self.writes = writes
        self.codebook = codebook
        self.template = template
        self.hooks = hooks
        self.clock = clock
        self.log = log
    }

    /// Stops the driver between pages and steps.
    func stop() { stopping.store(true, ordering: .relaxed) }

    /// True while the driver thread runs.
    var isRunning: Bool { running.load(ordering: .acquiring) }

    /// Waits, at most `seconds`, until the driver thread has stopped (after an abort: it checks
    /// between pages and before each step; a page in flight takes at most its deadline).
    func waitUntilStopped(seconds: Int) {
        let limit = DispatchTime.now() + .seconds(seconds)
        while isRunning, DispatchTime.now() < limit { Thread.sleep(forTimeInterval: 0.02) }
    }

    static let movePageSize = 16_384

    /// Starts the driver on its own thread unless one runs.
    func start() {
        guard running.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return }
        let thread = Thread { [self] in
            defer { running.store(false, ordering: .releasing) }
            // A move takes the CPU that searches leave idle.
            lowerThisThreadsPriority()
            var failures = 0
            var paused: MoveRecord.Step?
            while !stopping.load(ordering: .relaxed) {
                guard let move = directory.withLock({ $0.move }) else { return }
                if let hook = hooks.enteringMoveStep, paused != move.step {
                    hook(move.step)
                    paused = move.step
                }
                do {
                    try advance(move)
                    failures = 0
                } catch {
                    // Aborted meanwhile: the journal entry belongs to the abort now.
                    guard directory.withLock({ $0.move?.toVersion }) == move.toVersion else { return }
                    failures += 1
                    let message = "\(error)"
                    try? catalog.setMoveError(move, message)
                    directory.withLock { $0.move?.error = message }
                    log("move to map \(move.toVersion), step \(move.step.rawValue): \(message); retrying")
                    clock.sleep(seconds: min(2.0, 0.1 * Double(failures)))
                }
            }
        }
        thread.name = "sightline-move"
        thread.start()
    }

    /// Records `step` in the catalog and in the routing, under the write lock: no write is
    /// half-routed across a change of where writes go.
    func enter(_ move: MoveRecord, _ step: MoveRecord.Step) throws {
        try writes.exclusive {
            // An aborted move is gone from the routing: its journal entry must not come back.
            guard directory.withLock({ $0.move?.toVersion }) == move.toVersion else {
                throw ErrorReply(.conflict, "the move to map \(move.toVersion) was aborted")
            }
            try catalog.setMoveStep(move, step)
            directory.withLock { route in
                route.move?.step = step
                route.move?.error = ""
                if step == .flip, let toMap = route.toMap { route.current = toMap }
                if step == .done { route.move = nil; route.fromMap = nil; route.toMap = nil }
            }
        }
        let now = DispatchTime.now()
        let previous = stepStarted.withLock { started in defer { started = now }; return started }
        let took = previous.map {
            String(format: " (%@ took %.2f s)", move.step.rawValue, secondsElapsed(since: $0.uptimeNanoseconds, now: now.uptimeNanoseconds))
        }
        log("move to map \(move.toVersion): \(step.rawValue)" + (took ?? ""))
    }

    func advance(_ move: MoveRecord) throws {
        switch move.step {
        case .done: return
        case .planned:
            // Journaled, then interrupted (a crash, a write that held the lock) before `begin`:
            // nothing acted on it yet, so it simply starts.
            try enter(move, .begin)
        case .begin:
            try announcePlacements()
            let plan = try inventory()
            lastPlan.withLock { $0 = plan }
            let total = plan.reduce(UInt64(0)) { $0.saturatingAdd($1.count) }
            try catalog.setMoveProgress(move, copied: 0, total: total)
            directory.withLock { $0.move?.total = total; $0.move?.copied = 0 }
            try enter(move, .copy)
        case .copy:
            let started = DispatchTime.now()
            let copied = try copyMovePages(move)
            let seconds = secondsElapsed(since: started.uptimeNanoseconds)
            log(String(format: "move to map %llu: copied %llu entries in %.2f s (%.0f a second)", move.toVersion, copied, seconds,
                       Double(copied) / max(seconds, 1e-9)))
            try enter(move, .verify)
        case .verify:
            if try verifyMove(move) {
                try enter(move, .flip)
            } else {
                try enter(move, .copy)
            }
        case .flip:
            try enter(move, .delete)
        case .delete:
            try waitForSearches(ofVersion: move.fromVersion)
            try finish(move)
            try enter(move, .done)
        }
    }

    /// Sends every worker of both maps the two placements (they must all take them). A worker
    /// without the codebooks (a new shard) gets them first, while the others re-split.
    func announcePlacements() throws {
        let (shards, placements) = directory.withLock { ($0.involvedShards, $0.workerPlacements) }
        try placementPushes.withLock { _ in
            let fresh = shards.filter { states.state(of: $0).codebookVersion != codebook.version }
            var calls: [(shard: ShardID, body: RequestBody)] = fresh.map {
                ($0, .codebookPush(version: codebook.version, indexFile: codebook.indexFile))
            }
            calls += shards.filter { !fresh.contains($0) }.map { ($0, .placementUpdate(placements)) }
            var replies = shardCalls.fanOutCalls(calls, deadlineMilliseconds: 60_000)
            for (call, reply) in zip(calls, replies) {
                if case .codebookPush = call.body, case .failure(let error) = reply {
                    throw ErrorReply(.unavailable, "shard \(call.shard) did not take the codebooks: \(error.message)")
                }
            }
            let late: [(shard: ShardID, body: RequestBody)] = fresh.map { ($0, .placementUpdate(placements)) }
            calls += late
            replies += shardCalls.fanOutCalls(late, deadlineMilliseconds: 60_000)
            for (call, reply) in zip(calls, replies) {
                if case .placementUpdate = call.body, case .failure(let error) = reply {
                    throw ErrorReply(.unavailable, "shard \(call.shard) did not take the placements: \(error.message)")
                }
            }
        }
    }

    /// Entries that move, by (source, target), counted by the sources.
    func inventory() throws -> [Flow] {
        let sources = directory.withLock { $0.fromMap?.placementShards ?? [] }.map { ShardID($0) }
        var flows: [Flow] = []
        let inventories = Dictionary(uniqueKeysWithValues: sources.map { ($0, RequestBody.shardFlow(FlowQuery(action: .inventory))) })
        for (shard, reply) in shardCalls.fanOut(inventories, deadlineMilliseconds: 60_000).sorted(by: { $0.key < $1.key }) {
            guard case .success(.shardFlow(let reply)) = reply else { throw ErrorReply(.unavailable, "shard \(shard) sent no inventory") }
            flows += reply.flows.filter { $0.from == shard.rawValue && $0.to != shard.rawValue }
        }
        return flows
    }

    /// Copies every source's leaving entries page by page, resuming at the journaled cursor.
    /// A source exports its next page while the targets store the current one. Writes go on
    /// meanwhile: a target refuses copies of ids deleted during the move, and verify catches
    /// anything else.
    @discardableResult
    func copyMovePages(_ move: MoveRecord) throws -> UInt64 {
        let (sources, targets) = directory.withLock { ($0.fromMap?.placementShards ?? [], $0.toMap?.placementShards ?? []) }
        var copied = directory.withLock { $0.move?.copied ?? 0 }
        var copiedNow: UInt64 = 0
        for source in sources.map({ ShardID($0) }) {
            var (after, done) = try catalog.moveCursor(move, source: source.rawValue)
            guard !done else { continue }
            let pageSize = MoveDriver.pageSize(rate: move.rate)
            var page = try exportPage(from: source, after: after, limit: pageSize)
            while true {
                if stopping.load(ordering: .relaxed) { throw ErrorReply(.unavailable, "the coordinator is stopping") }
                guard directory.withLock({ $0.move?.toVersion }) == move.toVersion else {
                    throw ErrorReply(.conflict, "the move to map \(move.toVersion) was aborted")
                }
                let started = clock.now()
                var calls = try transferCalls(page, from: source, targets: targets)
                if let next = page.next { calls.append((source, .shardExport(after: next, limit: pageSize))) }
                let replies = shardCalls.fanOutCalls(calls, deadlineMilliseconds: 60_000)
                for (call, reply) in zip(calls, replies) {
                    guard case .shardTransfer = call.body else { continue }
                    guard case .success(.shardTransfer) = reply else {
                        throw ErrorReply(.unavailable, "shard \(call.shard) did not take a page from shard \(source): "
                                                       + ShardCalls.failureMessage(reply))
                    }
                }
                (after, done) = (page.next ?? after, page.next == nil)
                try catalog.setMoveCursor(move, source: source.rawValue, after: after, done: done)
                copied = copied.saturatingAdd(UInt64(page.entries.ids.count))
                copiedNow = copiedNow.saturatingAdd(UInt64(page.entries.ids.count))
                let total = directory.withLock { $0.move?.total ?? 0 }
                try catalog.setMoveProgress(move, copied: copied, total: total)
                directory.withLock { $0.move?.copied = copied }
                // `--rate`: the page's entries take at least entries / rate seconds.
                if let until = MovePacing.pageEnd(started: started, entries: page.entries.ids.count, rate: move.rate) {
                    clock.sleep(until: until)
                }
                if done { break }
                page = try checkedPage(replies.last!, from: source)
            }
        }
        return copiedNow
    }

    func exportPage(from source: ShardID, after: UInt64?, limit: Int = MoveDriver.movePageSize) throws -> ExportPage {
        try checkedPage(shardCalls.fanOut([source: .shardExport(after: after, limit: limit)], deadlineMilliseconds: 60_000)[source]!,
                        from: source)
    }

    /// Entries a copy page carries: a rate-limited move sends about four pages a second, so its
    /// progress counts what has arrived rather than a whole page ahead of the pacing.
    static func pageSize(rate: UInt32) -> Int {
        rate == 0 ? movePageSize : max(16, min(movePageSize, Int(rate) / 4))
    }

    /// The page in an export reply, its counts checked (it comes from a peer) before anything
    /// is sliced by them.
    func checkedPage(_ reply: Result<ResponseBody, ErrorReply>, from source: ShardID) throws -> ExportPage {
        guard case .success(.shardExport(let page)) = reply else {
            throw ErrorReply(.unavailable, "shard \(source) did not export: \(ShardCalls.failureMessage(reply))")
        }
        let entries = page.entries
        let n = entries.ids.count, m = template.codeSize, dimension = template.dimension
        guard n <= MoveDriver.movePageSize, entries.lists.count == n, entries.codes.count == n * m,
              entries.labels.isEmpty || entries.labels.count == n, entries.labeled.isEmpty || entries.labeled.count == n,
              entries.keys.isEmpty || entries.keys.count == n, entries.vectors.isEmpty || entries.vectors.count == n * dimension else {
            throw ErrorReply(.internalError, "shard \(source) exported a malformed page of \(n) entries")
        }
        return page
    }

    /// One transfer per target of the page's entries (placed by the next map).
    func transferCalls(_ page: ExportPage, from source: ShardID, targets: [UInt32]) throws -> [(shard: ShardID, body: RequestBody)] {
        let entries = page.entries
        let m = template.codeSize, dimension = template.dimension
        let shards = targets.map { ShardID($0) }
        var rowsByTarget: [ShardID: [Int]] = [:]
        for (row, id) in entries.ids.enumerated() { rowsByTarget[Rendezvous.owner(of: id, among: shards), default: []].append(row) }
        return try rowsByTarget.keys.sorted().map { target in
            guard target != source else { throw ErrorReply(.internalError, "shard \(source) exported entries it keeps") }
            let rows = rowsByTarget[target]!
            return (target, .shardTransfer(ShardTransfer(
                codebookVersion: entries.codebookVersion, ids: rows.map { entries.ids[$0] }, lists: rows.map { entries.lists[$0] },
                codes: rows.flatMap { entries.codes[$0 * m ..< ($0 + 1) * m] },
                labels: entries.labels.isEmpty ? [] : rows.map { entries.labels[$0] },
                labeled: entries.labeled.isEmpty ? [] : rows.map { entries.labeled[$0] },
                keys: entries.keys.isEmpty ? [] : rows.map { entries.keys[$0] },
                vectors: entries.vectors.isEmpty ? [] : rows.flatMap { entries.vectors[$0 * dimension ..< ($0 + 1) * dimension] })))
        }
    }

    /// Compares, for every (source, target), the counts and digests per list on both sides with
    /// writes held off. A mismatching target drops its copies from that source, whose copy
    /// starts over; false then.
    func verifyMove(_ move: MoveRecord) throws -> Bool {
        var (sources, targets) = directory.withLock { ($0.fromMap?.placementShards ?? [], $0.toMap?.placementShards ?? []) }
        // Rendezvous moves ids only to an added shard, or only from a removed one: no other pair can hold a flow.
        if move.kind == "add-worker" { targets = [move.shard] } else if move.kind == "remove-worker" { sources = [move.shard] }
        return try writes.exclusive {
            var mismatched: [(source: UInt32, target: UInt32)] = []
            for source in sources {
                for target in targets where target != source {
                    let query = RequestBody.shardFlow(FlowQuery(action: .digest, fromShard: source, toShard: target))
                    let replies = shardCalls.fanOut([ShardID(source): query, ShardID(target): query], deadlineMilliseconds: 60_000)
                    guard case .success(.shardFlow(let atSource)) = replies[ShardID(source)]!,
                          case .success(.shardFlow(let atTarget)) = replies[ShardID(target)]! else {
                        throw ErrorReply(.unavailable, "shards \(source) and \(target) must both answer to verify the copy")
                    }
                    if atSource.listCounts != atTarget.listCounts || atSource.listDigests != atTarget.listDigests {
                        mismatched.append((source, target))
                    }
                }
            }
            guard !mismatched.isEmpty else { return true }
            for (source, target) in mismatched {
                log("move to map \(move.toVersion): the copy from shard \(source) to shard \(target) differs; copying it again")
                let reply = shardCalls.fanOut([ShardID(target): .shardFlow(FlowQuery(action: .drop, fromShard: source, toShard: target))],
                                   deadlineMilliseconds: 60_000)[ShardID(target)]!
                guard case .success = reply else {
                    throw ErrorReply(.unavailable, "shard \(target) did not drop its copy: \(ShardCalls.failureMessage(reply))")
                }
                try catalog.setMoveCursor(move, source: source, after: nil, done: false)
            }
            return false
        }
    }

    /// Waits (bounded by the longest deadline) until no search of map `version` runs.
    func waitForSearches(ofVersion version: UInt64) throws {
        let limit = DispatchTime.now() + .milliseconds(600_000)
        while directory.withLock({ $0.searchesInFlight[version, default: 0] }) > 0 {
            guard DispatchTime.now() < limit else { throw ErrorReply(.deadlineExceeded, "searches of map \(version) still run") }
            Thread.sleep(forTimeInterval: 0.01)
        }
    }

    /// Every worker of both maps serves by the new map alone and deletes what it no longer
    /// owns. A drained shard that cannot be reached is left behind: it is in no map, so what it
    /// holds is never served.
    func finish(_ move: MoveRecord) throws {
        let (shards, placement, retired) = directory.withLock { route in
            (route.involvedShards, [Placement(version: route.current.version, shards: route.current.placementShards)],
             Set(route.toMap?.shards.filter { $0.state == "retired" }.map(\.shard) ?? []))
        }
        try placementPushes.withLock { _ in
            let replies = shardCalls.fanOut(Dictionary(uniqueKeysWithValues: shards.map { ($0, RequestBody.placementUpdate(placement)) }),
                                 deadlineMilliseconds: 300_000)
            for (shard, reply) in replies {
                guard case .failure(let error) = reply else { continue }
                if retired.contains(shard.rawValue) {
                    log("drained shard \(shard) did not take the final map (\(error.message)); it is retired anyway")
                } else {
                    throw ErrorReply(.unavailable, "shard \(shard) did not take the final map: \(error.message)")
                }
            }
        }
    }

    /// Sends the worker at `url` the placements it should serve by when it reports others
    /// (`serving`: the versions it serves by and has pending). The health loop calls it.
    func pushPlacementsIfStale(to shard: ShardID, at url: String, serving: (UInt64, UInt64)) {
        placementPushes.withLock { _ in
            let placements = directory.withLock { $0.workerPlacements }
            let wanted = (placements[0].version, placements.count == 2 ? placements[1].version : 0)
            guard serving != wanted else { return }
            // A worker outside every placement it would get is a drained shard after its move.
            guard placements.contains(where: { $0.shards.contains(shard.rawValue) }) || serving.1 == wanted.0 else { return }
            let reply = shardCalls.call([WorkerCall(shard: shard, url: url, body: .placementUpdate(placements))],
                                        deadlineMilliseconds: 30_000)
            if case .failure(let error) = reply[0] {
                log("placement push to shard \(shard) at \(url) failed: \(error.message)")
            }
        }
    }

    /// Sends `calls` (placement updates after an abort) as one placement push.
    func pushPlacements(_ calls: [WorkerCall]) -> [Result<ResponseBody, ErrorReply>] {
        placementPushes.withLock { _ in shardCalls.call(calls, deadlineMilliseconds: 60_000) }
    }
}

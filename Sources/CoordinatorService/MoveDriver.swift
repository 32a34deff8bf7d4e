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
/// Every copy of a replicated shard takes part: transfers and drops reach a target's in-sync
/// copies as numbered writes (`ReplicatedWriter.write`), placements reach every copy, and
/// verify compares every in-sync copy of a source and of a target (MoveDriver+Copy,
/// MoveDriver+Verify, MoveDriver+Placements).
///
/// It owns the driver thread, the plan shown by `cluster status`, the step timings, and the
/// placement pushes. Locks: it takes `writes` exclusively for a step change and a verify, the
/// shard write locks through the writer, then `placementPushes` around a push; `lastPlan` and
/// `stepStarted` are leaves (see the lock order in Coordinator.swift).
final class MoveDriver: Sendable {
    let shardCalls: ShardCalls
    /// Numbered writes to replicated targets, demotions, and the placement-push lock.
    let writer: ReplicatedWriter
    let catalog: CatalogDatabase
    let states: WorkerStates
    /// Shared by adds and deletes, exclusive here (see `Coordinator.writes`).
    let writes: ReadWriteLock
    let codebook: (version: UInt64, indexFile: [UInt8])
    /// The trained, empty index: code size and dimension to check pages by.
    let template: IVFPQIndex
    private let hooks: CoordinatorHooks
    let clock: any MonotonicClock
    let log: @Sendable (String) -> Void
    private let running = Atomic<Bool>(false)
    /// The flows of the move in progress, by (source, target), as counted at its start.
    let lastPlan = Mutex<[Flow]>([])
    /// When the move's current step began (for the log's step durations).
    private let stepStarted = Mutex<DispatchTime?>(nil)
    let stopping = Atomic<Bool>(false)

    var directory: ShardDirectory { shardCalls.directory }

    init(shardCalls: ShardCalls, writer: ReplicatedWriter, catalog: CatalogDatabase, states: WorkerStates, writes: ReadWriteLock,
         codebook: (version: UInt64, indexFile: [UInt8]), template: IVFPQIndex, hooks: CoordinatorHooks,
         clock: any MonotonicClock, log: @escaping @Sendable (String) -> Void) {
        self.shardCalls = shardCalls
        self.writer = writer
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

    /// Waits (bounded by the longest deadline) until no search of map `version` runs.
    func waitForSearches(ofVersion version: UInt64) throws {
        let limit = DispatchTime.now() + .milliseconds(600_000)
        while directory.withLock({ $0.searchesInFlight[version, default: 0] }) > 0 {
            guard DispatchTime.now() < limit else { throw ErrorReply(.deadlineExceeded, "searches of map \(version) still run") }
            Thread.sleep(forTimeInterval: 0.01)
        }
    }
}

import ClusterModel
import Dispatch
import ShardStore
import Synchronization
import Wire

/// Writes to replicated shards: numbered per shard, sent to every in-sync copy, acknowledged when
/// `write_quorum` copies applied them (and the shard's last acknowledged write is recorded in the
/// catalog); a copy that failed leaves the in-sync set. With fewer copies in sync than the
/// quorum, a write is refused before anything is sent. A copy that left catches up from a peer
/// (ReplicatedWriter+CatchUp) before it serves again.
///
/// It owns the write numbers (`sequences`), the shard write locks, the copies' states (through
/// the directory and the catalog), the catch-up, and the placement-push lock. Locks: a shard
/// write lock is held across calls to the shard's copies, several in ascending shard order;
/// `placementPushes` after them; `sequences`, `shardLocks` and `fullCopies` are leaves (see the
/// lock order in Coordinator.swift).
final class ReplicatedWriter: Sendable {
    let shardCalls: ShardCalls
    let catalog: CatalogDatabase
    private let writeQuorum: WriteQuorum
    let log: @Sendable (String) -> Void
    /// Per replicated shard: the last write committed and the sequence numbers reserved.
    let sequences = Mutex<[ShardID: ShardSequence]>([:])
    /// Held while a replicated shard's write is numbered and sent, and while a catch-up closes.
    private let shardLocks = Mutex<[ShardID: ShardWriteLock]>([:])
    /// Copies whose last catch-up ended with different digests: the next copies the whole shard.
    let fullCopies = Mutex<Set<String>>([])
    /// Held around a placement push (the move driver's and the health loop's, one at a time) and
    /// while a copy enters the in-sync set: a copy enters only with its peers' placements, and a
    /// push sees it either before (not in sync: its failure is left to the health loop) or after.
    let placementPushes = Mutex<Void>(())
    let catchUpRunning = Atomic<Bool>(false)
    /// Entries a second a whole-shard copy takes at most (0: as fast as the copies take them):
    /// the `--rate` of the last change that added copies (kept until the coordinator restarts).
    let catchUpRate = Atomic<UInt32>(0)
    let stopping = Atomic<Bool>(false)

    var directory: ShardDirectory { shardCalls.directory }

    init(shardCalls: ShardCalls, catalog: CatalogDatabase, writeQuorum: WriteQuorum, log: @escaping @Sendable (String) -> Void) {
        self.shardCalls = shardCalls
        self.catalog = catalog
        self.writeQuorum = writeQuorum
        self.log = log
    }

    /// Stops the catch-up between copies.
    func stop() { stopping.store(true, ordering: .relaxed) }

    /// Sends each (shard, body) write: to the one worker of a shard with a single copy, to every
    /// in-sync copy (numbered) of a replicated one. One result per call, in order.
    ///
    /// `notAfter` is the client's own deadline: a write still waiting for its shards' locks then
    /// is refused with nothing applied. A client that gave up and retried must never see its
    /// earlier attempt run after a later one (it could re-add an id the client has since deleted).
    func write(_ calls: [(shard: ShardID, body: RequestBody)], deadlineMilliseconds: Int,
               notAfter: DispatchTime = .distantFuture) -> [Result<ResponseBody, ErrorReply>] {
        let replicated = Set(calls.map(\.shard).filter(shardCalls.isReplicated))
        guard !replicated.isEmpty else { return shardCalls.fanOutCalls(calls, deadlineMilliseconds: deadlineMilliseconds) }
        // Numbered writes of a shard go out one at a time, in order (locks taken in shard order).
        return withShardLocks(replicated.sorted()) {
            // A shard named twice (during a move: as the owner of some ids and the next owner of
            // others) takes its writes in rounds, each numbered after the previous one committed.
            var results = [Result<ResponseBody, ErrorReply>?](repeating: nil, count: calls.count)
            var remaining = Array(calls.indices)
            while !remaining.isEmpty {
                var named = Set<ShardID>(), round: [Int] = [], later: [Int] = []
                for index in remaining {
                    if replicated.contains(calls[index].shard), !named.insert(calls[index].shard).inserted {
                        later.append(index)
                    } else {
                        round.append(index)
                    }
                }
                let replies = numberedWrite(round.map { calls[$0] }, replicated: replicated, deadlineMilliseconds: deadlineMilliseconds,
                                            notAfter: notAfter)
                for (index, reply) in zip(round, replies) { results[index] = reply }
                remaining = later
            }
            return results.map { $0! }
        }
    }

    /// `write` with the replicated shards' locks held.
    private func numberedWrite(_ calls: [(shard: ShardID, body: RequestBody)], replicated: Set<ShardID>, deadlineMilliseconds: Int,
                               notAfter: DispatchTime) -> [Result<ResponseBody, ErrorReply>] {
        guard DispatchTime.now() < notAfter else {
            return calls.map { call in
                .failure(ErrorReply(.deadlineExceeded, "shard \(call.shard): the write waited for the shard's earlier writes past "
                                                       + "the request's deadline; nothing was applied"))
            }
        }
        var workerCalls: [WorkerCall] = [], positions: [[Int]] = [], numbers: [WriteSequence?] = []
        var failures: [Int: ErrorReply] = [:]
        for (index, call) in calls.enumerated() {
            guard replicated.contains(call.shard) else {
                let url = shardCalls.preferredReplica(of: call.shard) ?? ""
                positions.append([workerCalls.count])
                numbers.append(nil)
                workerCalls.append(WorkerCall(shard: call.shard, url: url, body: call.body))
                continue
            }
            let all = directory.copies(of: call.shard)
            let copies = all.filter { $0.state == ReplicaState.inSync }.map(\.url)
            let required = requiredCopies(of: call.shard)
            do {
                guard !copies.isEmpty else { throw ErrorReply(.unavailable, "shard \(call.shard) has no replica in sync") }
                guard copies.count >= required else {
                    throw ErrorReply(.unavailable, "shard \(call.shard) has \(copies.count) of \(all.count) copies in sync; "
                                                   + "write_quorum = \(writeQuorum) needs \(required): nothing was applied; "
                                                   + "retry once a copy has caught up (sightline cluster status)")
                }
                let sequence = try nextSequence(of: call.shard)
                numbers.append(sequence)
                positions.append(copies.indices.map { workerCalls.count + $0 })
                workerCalls += copies.map { WorkerCall(shard: call.shard, url: $0, body: call.body, sequence: sequence) }
            } catch {
                numbers.append(nil)
                positions.append([])
                failures[index] = error as? ErrorReply ?? ErrorReply(.internalError, "\(error)")
            }
        }
        let replies = shardCalls.pool.collectWrites(workerCalls, groups: positions, deadlineMilliseconds: deadlineMilliseconds)
        return calls.indices.map { index in
            if let failure = failures[index] { return .failure(failure) }
            let mine = positions[index].map { (workerCalls[$0], replies[$0]) }
            guard let sequence = numbers[index] else { return mine[0].1 }
            let applied = mine.filter { if case .success = $0.1 { return true } else { return false } }
            guard let first = applied.first else {
                // Nobody applied it: every copy keeps its place, and the numbering is read from the
                // copies again before the next write (their replies may have been lost after all).
                sequences.withLock { $0[calls[index].shard] = nil }
                return mine.first { if case .failure(let e) = $0.1 { return e.code == .badRequest } else { return false } }?.1 ?? mine[0].1
            }
            let shard = calls[index].shard
            sequences.withLock { $0[shard]?.lastCommitted = sequence.seq }
            for (call, reply) in mine {
                guard case .failure(let error) = reply else { continue }
                // A copy left behind must be out of the set, durably, before the write is acknowledged.
                do {
                    try demote(call.shard, url: call.url, because: "it did not apply write \(sequence.seq): \(error.message)")
                } catch {
                    return .failure(ErrorReply(.unavailable, "shard \(call.shard): write \(sequence.seq) reached only some copies "
                                                             + "and the catalog could not record it: \(error)"))
                }
            }
            let required = requiredCopies(of: shard)
            guard applied.count >= required else {
                // Applied where it was, but on fewer copies than the quorum: not acknowledged. A
                // retry is safe (adds and deletes are idempotent) once copies have caught up.
                return .failure(ErrorReply(.unavailable, "shard \(shard): write \(sequence.seq) reached \(applied.count) copies; "
                                                         + "write_quorum = \(writeQuorum) needs \(required); retry once a "
                                                         + "copy has caught up"))
            }
            // The last acknowledged write, durably: a copy that holds less (an emptied or
            // restored data directory) can then never become the source of the others.
            do {
                try catalog.recordCommittedSeq(shard: shard.rawValue, seq: sequence.seq)
            } catch {
                return .failure(ErrorReply(.unavailable, "shard \(shard): write \(sequence.seq) was applied but the catalog could "
                                                         + "not record it: \(error); retry (adds and deletes are idempotent)"))
            }
            return first.1
        }
    }

    /// The copies of `shard` a write must reach before it is acknowledged (`write_quorum`). A copy
    /// that joins (added by an operator, never in sync yet) does not count until it has caught
    /// up: adding a copy never stops writes.
    func requiredCopies(of shard: ShardID) -> Int {
        let members = directory.copies(of: shard).filter { $0.state != ReplicaState.joining }.count
        return writeQuorum.required(copies: members)
    }

    /// Runs `body` holding the write locks of `shards` (taken in the order given: callers pass
    /// them ascending), which order each shard's numbered writes and the steps that must not
    /// interleave with one (a catch-up's last pages, a copy joining, the health loop's check).
    func withShardLocks<T: Sendable>(_ shards: [ShardID], _ body: () throws -> T) rethrows -> T {
        guard let first = shards.first else { return try body() }
        return try lock(of: first).mutex.withLock { _ in try withShardLocks(Array(shards.dropFirst()), body) }
    }

    /// Runs `body` holding `shard`'s write lock if no one holds it; nil when someone does.
    func withShardLockIfFree<T: Sendable>(_ shard: ShardID, _ body: () throws -> T) rethrows -> T? {
        try lock(of: shard).mutex.withLockIfAvailable { _ in try body() }
    }

    private func lock(of shard: ShardID) -> ShardWriteLock {
        shardLocks.withLock { locks in
            if let lock = locks[shard] { return lock }
            let lock = ShardWriteLock()
            locks[shard] = lock
            return lock
        }
    }

    /// The number of `shard`'s next write and the one before it. Numbers are reserved in the
    /// catalog a thousand at a time, before any is handed out.
    func nextSequence(of shard: ShardID) throws -> WriteSequence {
        if sequences.withLock({ $0[shard] == nil }) {
            let reserved = try catalog.reservedSeq(shard: shard.rawValue)
            // The copies that answered must hold the last acknowledged write: when only copies
            // with less answer (an emptied or restored directory), numbering from them would start
            // a new history over acknowledged data. Writes wait for a copy that holds it. (Read
            // before the copies answer, as in `demoteStaleCopies`.)
            let acknowledged = try catalog.committedSeq(shard: shard.rawValue)
            let committed = try lastAppliedByCopies(of: shard)
            guard committed >= acknowledged else {
                demoteCopiesBelow(acknowledged, of: shard)
                throw ErrorReply(.unavailable, "no reachable copy of shard \(shard) holds its last acknowledged write "
                                               + "\(acknowledged) (the newest that answered holds \(committed)): writes to it wait "
                                               + "until such a copy answers")
            }
            // Numbers come from peers: far from the top, so that adding to them cannot trap.
            guard reserved < UInt64.max / 2, committed < UInt64.max / 2 else {
                throw ErrorReply(.internalError, "shard \(shard)'s write numbers (\(reserved), \(committed)) are out of range")
            }
            sequences.withLock { $0[shard] = $0[shard] ?? ShardSequence(lastCommitted: committed, next: max(reserved, committed) + 1,
                                                                       reserved: reserved) }
        }
        var state = sequences.withLock { $0[shard]! }
        let seq = state.next
        if seq > state.reserved {
            guard seq < UInt64.max / 2 else { throw ErrorReply(.internalError, "shard \(shard)'s write numbers ran out") }
            try catalog.reserveSeq(shard: shard.rawValue, upTo: seq + 999)
            state.reserved = seq + 999
        }
        state.next = seq + 1
        let numbered = state
        sequences.withLock { $0[shard] = numbered }
        return WriteSequence(seq: seq, previous: state.lastCommitted)
    }

    /// The newest write any in-sync copy of `shard` applied, asked now (under the shard's write
    /// lock, so nothing moves it meanwhile). No answer: the write fails rather than guess.
    func lastAppliedByCopies(of shard: ShardID) throws -> UInt64 {
        let copies = directory.inSyncCopies(of: shard)
        let replies = shardCalls.call(copies.map { WorkerCall(shard: shard, url: $0, body: .health) }, deadlineMilliseconds: 2000)
        guard let newest = replies.compactMap({ reply -> UInt64? in
            if case .success(.health(let health)) = reply { return health.lastSeq } else { return nil }
        }).max() else {
            throw ErrorReply(.unavailable, "no in-sync copy of shard \(shard) answered: its writes wait until one does")
        }
        return newest
    }

    /// Demotes every in-sync copy of `shard` that answers with fewer writes than `floor` (the
    /// last acknowledged): an emptied or restored data directory. It catches up from a copy that
    /// holds them, and serves nothing meanwhile.
    func demoteCopiesBelow(_ floor: UInt64, of shard: ShardID) {
        let copies = directory.inSyncCopies(of: shard)
        let replies = shardCalls.call(copies.map { WorkerCall(shard: shard, url: $0, body: .health) }, deadlineMilliseconds: 1000)
        for (url, reply) in zip(copies, replies) {
            guard case .success(.health(let health)) = reply, health.lastSeq < floor else { continue }
            do {
                try demote(shard, url: url, because: "it holds writes up to \(health.lastSeq), below the last acknowledged "
                                                    + "write \(floor) (an emptied or restored data directory)")
            } catch {
                log("shard \(shard)'s replica at \(url) holds less than the acknowledged writes but the catalog could not "
                    + "record it: \(error)")
            }
        }
    }

    /// An in-sync copy that reports fewer writes than another in-sync copy (after a coordinator
    /// restart, say) or than the shard's last acknowledged write (an emptied or restored data
    /// directory) leaves the set, unless a write is in flight.
    func demoteStaleCopies(of shard: ShardID) {
        // Copies are compared with each other under the shard's write lock (no write moves the
        // numbers meanwhile). A copy below the last acknowledged write is stale whatever is in
        // flight (that number only grows): it leaves the set even while a write holds the lock,
        // so an emptied copy never serves reads behind a write that waits for its peer.
        if withShardLockIfFree(shard, { demoteStaleCopies(of: shard, writesHeld: true) }) == nil {
            demoteStaleCopies(of: shard, writesHeld: false)
        }
    }

    private func demoteStaleCopies(of shard: ShardID, writesHeld: Bool) {
        // The last acknowledged write is read before the copies answer: a write in flight may be
        // acknowledged between a copy's reply and a later read, and that copy, which applied it,
        // would then look stale (it was the only in-sync copy once, and the shard was left with
        // none). Both numbers only grow, so a copy below a floor read earlier truly lacks it.
        let acknowledged = (try? catalog.committedSeq(shard: shard.rawValue)) ?? 0
        let copies = directory.inSyncCopies(of: shard)
        let replies = shardCalls.call(copies.map { WorkerCall(shard: shard, url: $0, body: .health) }, deadlineMilliseconds: 1000)
        let applied = zip(copies, replies).compactMap { url, reply -> (String, UInt64)? in
            if case .success(.health(let health)) = reply { return (url, health.lastSeq) } else { return nil }
        }
        guard let answered = applied.map(\.1).max() else { return }
        let newest = writesHeld ? max(answered, acknowledged) : acknowledged
        for (url, last) in applied where last < newest {
            do {
                try demote(shard, url: url, because: last < acknowledged
                    ? "it holds writes up to \(last), below the last acknowledged write \(acknowledged) "
                        + "(an emptied or restored data directory)"
                    : "it applied writes up to \(last), another copy up to \(newest)")
            } catch {
                log("shard \(shard)'s replica at \(url) trails its peers but the catalog could not record it: \(error)")
            }
        }
    }

    /// Takes a copy out of the in-sync set: it gets no writes or reads until it has caught up.
    func demote(_ shard: ShardID, url: String, because reason: String) throws {
        guard try setReplicaState(shard, url: url, ReplicaState.catchingUp) else { return }
        log("shard \(shard)'s replica at \(url) left the in-sync set: \(reason); it catches up from a peer when it answers")
    }

    /// Takes the copy at `url` out of `shard` (catalog first, then the directory), with any
    /// replacement by or of it. Callers hold the shard's write lock.
    func removeCopy(_ shard: ShardID, url: String) throws {
        try catalog.removeReplica(shard: shard.rawValue, url: url)
        try catalog.removeReplacement(shard: shard.rawValue, url: url)
        directory.withLock { route in
            guard let set = route.replicaSets[shard.rawValue] else { return }
            route.replicaSets[shard.rawValue] = set.filter { $0.url != url }
        }
    }

    /// Records a copy's state, in the catalog first (a failure changes nothing); false when it
    /// already had it or is unknown. Callers that change states hold the shard's write lock.
    @discardableResult
    func setReplicaState(_ shard: ShardID, url: String, _ state: String) throws -> Bool {
        guard var record = directory.withLock({ $0.replicaSets[shard.rawValue]?.first { $0.url == url } }), record.state != state else {
            return false
        }
        record.state = state
        try catalog.putReplica(record)
        let changed = record
        directory.withLock { route in
            guard var set = route.replicaSets[shard.rawValue], let position = set.firstIndex(where: { $0.url == url }) else { return }
            set[position] = changed
            route.replicaSets[shard.rawValue] = set
        }
        return true
    }
}

/// One shard's write lock (a class: `Mutex` cannot be copied into the table of locks).
final class ShardWriteLock: Sendable {
    let mutex = Mutex<Void>(())
}

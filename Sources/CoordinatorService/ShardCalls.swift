import ClusterModel
import ShardStore
import Wire

/// Calls to shards rather than to workers: each shard's copy is chosen from the directory (an
/// in-sync copy, the least busy first) and called through the pool, and every answered round
/// trip is timed for `/metrics`. The coordinator's parts reach workers only through it.
///
/// Reads go to one in-sync copy, hedged to another when the first is slow or fails; a
/// replicated shard with no copy in sync has no copy to call (one that is catching up, or came
/// back emptied, must not answer for the shard).
final class ShardCalls: Sendable {
    let directory: ShardDirectory
    let pool: WorkerPool
    private let metrics: MetricsRegistry

    init(directory: ShardDirectory, pool: WorkerPool, metrics: MetricsRegistry) {
        self.directory = directory
        self.pool = pool
        self.metrics = metrics
    }

    func isReplicated(_ shard: ShardID) -> Bool { directory.isReplicated(shard) }

    /// Copies of `shard` that may serve, the least busy first (open breakers last).
    func servingReplicas(of shard: ShardID) -> [String] {
        pool.rank(directory.inSyncCopies(of: shard))
    }

    /// The copy a single call goes to (nil: none may answer for the shard).
    func preferredReplica(of shard: ShardID) -> String? {
        if let first = servingReplicas(of: shard).first { return first }
        let copies = directory.copies(of: shard)
        return copies.count == 1 ? copies[0].url : nil
    }

    /// True when every copy of `shard` is skipped by an open breaker (its absence was logged then).
    func everyCopySkipped(_ shard: ShardID) -> Bool {
        pool.areAllSkipped(directory.copies(of: shard).map(\.url))
    }

    /// Sends every call at once (`WorkerPool.call`), timing each shard's round trip (probes are
    /// not timed: they measure reachability, not service).
    func call(_ calls: [WorkerCall], deadlineMilliseconds: Int, probe: Bool = false) -> [Result<ResponseBody, ErrorReply>] {
        pool.call(calls, deadlineMilliseconds: deadlineMilliseconds, probe: probe) { shard, started in
            self.metrics.observe("sightline_shard_call_seconds", help: "Round trips of the coordinator's calls to each shard.",
                                 labels: [("shard", "\(shard.rawValue)")], seconds: self.pool.clock.seconds(since: started))
        }
    }

    /// One call to the worker at `url`; a failure throws.
    func callOne(_ shard: ShardID, _ url: String, _ body: RequestBody, deadlineMilliseconds: Int = 60_000) throws -> ResponseBody {
        try call([WorkerCall(shard: shard, url: url, body: body)], deadlineMilliseconds: deadlineMilliseconds)[0].get()
    }

    /// Sends each (shard, body) at once to the shard's preferred copy and collects each reply
    /// or failure in order; the slowest shard, not the sum, bounds the time. A shard may appear
    /// more than once.
    func fanOutCalls(_ calls: [(shard: ShardID, body: RequestBody)], deadlineMilliseconds: Int,
                     probe: Bool = false) -> [Result<ResponseBody, ErrorReply>] {
        let targets = calls.map { call -> WorkerCall? in
            preferredReplica(of: call.shard).map { WorkerCall(shard: call.shard, url: $0, body: call.body) }
        }
        let sent = call(targets.compactMap { $0 }, deadlineMilliseconds: deadlineMilliseconds, probe: probe)
        var next = sent.makeIterator()
        return zip(calls, targets).map { call, target in
            guard target == nil else { return next.next()! }
            return directory.copies(of: call.shard).isEmpty
                ? .failure(ErrorReply(.notFound, "shard \(call.shard) is in no shard map"))
                : .failure(ErrorReply(.unavailable, "shard \(call.shard) has no copy in sync"))
        }
    }

    /// One body per shard, sent at once.
    func fanOut(_ bodies: [ShardID: RequestBody], deadlineMilliseconds: Int,
                probe: Bool = false) -> [ShardID: Result<ResponseBody, ErrorReply>] {
        let order = bodies.keys.sorted()
        let replies = fanOutCalls(order.map { ($0, bodies[$0]!) }, deadlineMilliseconds: deadlineMilliseconds, probe: probe)
        return Dictionary(uniqueKeysWithValues: zip(order, replies))
    }

    /// One body per shard, read from one copy each. For replicated shards a copy that fails, or
    /// has not answered within the hedging delay, is backed up by the next copy; the first
    /// answer wins (`WorkerPool.hedgedRead`).
    func readFanOut(_ bodies: [ShardID: RequestBody], deadlineMilliseconds: Int) -> [ShardID: Result<ResponseBody, ErrorReply>] {
        // An unreplicated cluster (one lock to tell) takes the plain fan-out straight away.
        guard directory.withLock({ $0.isReplicated }), bodies.keys.contains(where: { servingReplicas(of: $0).count > 1 }) else {
            return fanOut(bodies, deadlineMilliseconds: deadlineMilliseconds)
        }
        return pool.hedgedRead(bodies, deadlineMilliseconds: deadlineMilliseconds) { servingReplicas(of: $0) }
    }

    /// The message of a failed reply, for logs and errors.
    static func failureMessage(_ reply: Result<ResponseBody, ErrorReply>) -> String {
        if case .failure(let error) = reply { return error.message }
        return "unexpected reply"
    }
}

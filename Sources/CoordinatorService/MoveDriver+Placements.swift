import ClusterModel
import ShardStore
import Wire

/// Placements on their way to the workers: the two maps at a move's begin, the new one at its
/// end, the health loop's pushes to a worker that serves by others, and an abort's. Every copy
/// of a replicated shard gets them; pushes go one at a time (`ReplicatedWriter.placementPushes`,
/// which a copy entering the in-sync set also takes: it enters only with its peers' placements).
extension MoveDriver {
    /// Sends every copy of both maps' shards the two placements. A copy without the codebooks (a
    /// new shard's) gets them first, while the others re-split.
    func announcePlacements() throws {
        let placements = directory.withLock { $0.workerPlacements }
        try pushToEveryCopy(.placementUpdate(placements), what: "the move's placements", codebooksFirst: true,
                            deadlineMilliseconds: 60_000)
    }

    /// Every copy of both maps' shards serves by the new map alone and deletes what it no longer
    /// owns. A drained shard's copy that cannot be reached is left behind: it is in no map, so
    /// what it holds is never served. The drained shard's copies then leave the catalog.
    func finish(_ move: MoveRecord) throws {
        let (placement, retired) = directory.withLock { route in
            ([Placement(version: route.current.version, shards: route.current.placementShards)],
             Set(route.toMap?.shards.filter { $0.state == "retired" }.map(\.shard) ?? []))
        }
        try pushToEveryCopy(.placementUpdate(placement), what: "the final map", tolerating: retired, deadlineMilliseconds: 300_000)
        for shard in retired.sorted() {
            let copies = directory.withLock { $0.replicaSets[shard] ?? [] }
            guard !copies.isEmpty else { continue }
            for copy in copies { try catalog.removeReplica(shard: shard, url: copy.url) }
            directory.withLock { $0.replicaSets[shard] = nil }
            log("drained shard \(shard): its \(copies.count) copies left the cluster")
        }
    }

    /// Sends `body` to every copy of the involved shards (after the codebooks, to copies that lack
    /// them, when `codebooksFirst`). Every in-sync copy must take it, except in `tolerating`
    /// shards: a replicated shard's in-sync copy that does not leaves the set, as long as another
    /// in-sync copy took it; otherwise the step fails (and is retried). A copy that is not in sync
    /// is sent it too; its failure is left to the health loop's push (it enters the set only
    /// with its peers' placements).
    func pushToEveryCopy(_ body: RequestBody, what: String, codebooksFirst: Bool = false, tolerating: Set<UInt32> = [],
                         deadlineMilliseconds: Int) throws {
        var demotions: [(shard: ShardID, url: String, reason: String)] = []
        try writer.placementPushes.withLock { _ in
            let copies = directory.withLock { route in route.involvedShards.flatMap { shard in route.replicas(of: shard) } }
            let fresh = codebooksFirst ? copies.filter { states.state(at: $0.url)?.codebookVersion != codebook.version } : []
            let freshURLs = Set(fresh.map(\.url))
            var calls = fresh.map { WorkerCall(shard: ShardID($0.shard), url: $0.url,
                                               body: .codebookPush(version: codebook.version, indexFile: codebook.indexFile)) }
            calls += copies.filter { !freshURLs.contains($0.url) }.map { WorkerCall(shard: ShardID($0.shard), url: $0.url, body: body) }
            var replies = shardCalls.call(calls, deadlineMilliseconds: deadlineMilliseconds)
            let tookCodebooks = zip(calls, replies).filter { call, reply in
                if case .codebookPush = call.body, case .success = reply { return true } else { return false }
            }.map { $0.0 }
            let late = tookCodebooks.map { WorkerCall(shard: $0.shard, url: $0.url, body: body) }
            calls += late
            replies += shardCalls.call(late, deadlineMilliseconds: deadlineMilliseconds)
            // Per copy, whether it took `body` (a copy that missed the codebooks did not).
            var took: [String: Result<ResponseBody, ErrorReply>] = [:]
            for (call, reply) in zip(calls, replies) {
                if case .codebookPush = call.body {
                    if case .failure = reply { took[call.url] = reply }
                } else {
                    took[call.url] = reply
                }
            }
            for shard in Set(copies.map(\.shard)).sorted() where !tolerating.contains(shard) {
                let mine = copies.filter { $0.shard == shard }
                let inSync = mine.count == 1 ? mine : mine.filter { $0.state == ReplicaState.inSync }
                let failed = inSync.filter { if case .success = took[$0.url] { return false } else { return true } }
                guard !failed.isEmpty else { continue }
                guard failed.count < inSync.count, mine.count > 1 else {
                    let message = failed.first.flatMap { took[$0.url] }.map(ShardCalls.failureMessage) ?? "no in-sync copy"
                    throw ErrorReply(.unavailable, "shard \(shard) did not take \(what): \(message)")
                }
                demotions += failed.map { copy in
                    (ShardID(shard), copy.url, "it did not take \(what): "
                        + (took[copy.url].map(ShardCalls.failureMessage) ?? "no reply"))
                }
            }
        }
        // Out of `placementPushes` first: the shard locks come before it in the lock order.
        for copy in demotions {
            try writer.withShardLocks([copy.shard]) { try writer.demote(copy.shard, url: copy.url, because: copy.reason) }
        }
    }

    /// Sends the worker at `url` the placements it should serve by when it reports others
    /// (`serving`: the versions it serves by and has pending). The health loop calls it.
    func pushPlacementsIfStale(to shard: ShardID, at url: String, serving: (UInt64, UInt64)) {
        writer.placementPushes.withLock { _ in
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
        writer.placementPushes.withLock { _ in shardCalls.call(calls, deadlineMilliseconds: 60_000) }
    }

}

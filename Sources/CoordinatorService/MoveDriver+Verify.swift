import ClusterModel
import ShardStore
import Wire

/// The move's verify step: with writes held off, the entries flowing from each source to each
/// target are counted and digested per list on every in-sync copy of both, and compared with
/// one copy of the source.
extension MoveDriver {
    /// What one (source, target) comparison found.
    struct FlowCheck {
        /// True when no in-sync copy of the target holds the flow as the source does: the target
        /// drops it and the source's copy starts over.
        var recopy = false
        /// Copies that differ from the source's reference copy (or did not answer) while another
        /// copy of their shard agrees: they leave the in-sync set and catch up from a peer.
        var stale: [(shard: ShardID, url: String, reason: String)] = []
    }

    /// Compares every (source, target) flow on every in-sync copy with writes held off. A
    /// target copy that differs while another agrees is demoted (it catches up); a target none of
    /// whose copies agree drops its copies from that source (a numbered write at a replicated
    /// target), whose copy starts over; false then.
    func verifyMove(_ move: MoveRecord) throws -> Bool {
        var (sources, targets) = directory.withLock { ($0.fromMap?.placementShards ?? [], $0.toMap?.placementShards ?? []) }
        // Rendezvous moves ids only to an added shard, or only from a removed one: no other pair can hold a flow.
        if move.kind == "add-worker" { targets = [move.shard] } else if move.kind == "remove-worker" { sources = [move.shard] }
        return try writes.exclusive {
            var mismatched: [(source: UInt32, target: UInt32)] = []
            var stale: [(shard: ShardID, url: String, reason: String)] = []
            for source in sources {
                for target in targets where target != source {
                    let check = try checkFlow(from: ShardID(source), to: ShardID(target))
                    if check.recopy { mismatched.append((source, target)) }
                    stale += check.stale
                }
            }
            // A shard's states change under its write lock (writes → shard locks, as ordered).
            for copy in stale {
                try writer.withShardLocks([copy.shard]) { try writer.demote(copy.shard, url: copy.url, because: copy.reason) }
            }
            guard !mismatched.isEmpty else { return true }
            for (source, target) in mismatched {
                log("move to map \(move.toVersion): the copy from shard \(source) to shard \(target) differs; copying it again")
                let reply = writer.write([(ShardID(target), .shardFlow(FlowQuery(action: .drop, fromShard: source, toShard: target)))],
                                         deadlineMilliseconds: 60_000)[0]
                guard case .success = reply else {
                    throw ErrorReply(.unavailable, "shard \(target) did not drop its copy: \(ShardCalls.failureMessage(reply))")
                }
                try catalog.setMoveCursor(move, source: source, after: nil, done: false)
            }
            return false
        }
    }

    /// The flow's counts and digests on every in-sync copy of `source` and `target` (the one
    /// worker of a shard without replicas), compared with the first source copy that answers.
    func checkFlow(from source: ShardID, to target: ShardID) throws -> FlowCheck {
        let query = RequestBody.shardFlow(FlowQuery(action: .digest, fromShard: source.rawValue, toShard: target.rawValue))
        let sourceCopies = verifiableCopies(of: source), targetCopies = verifiableCopies(of: target)
        guard !sourceCopies.isEmpty, !targetCopies.isEmpty else {
            throw ErrorReply(.unavailable, "shards \(source) and \(target) must each have a copy in sync to verify the copy")
        }
        let calls = sourceCopies.map { WorkerCall(shard: source, url: $0, body: query) }
            + targetCopies.map { WorkerCall(shard: target, url: $0, body: query) }
        let replies = shardCalls.call(calls, deadlineMilliseconds: 60_000)
        let answers = zip(calls, replies).map { call, reply -> (call: WorkerCall, flow: FlowReply?, error: String) in
            if case .success(.shardFlow(let flow)) = reply { return (call, flow, "") }
            return (call, nil, ShardCalls.failureMessage(reply))
        }
        let atSource = answers.prefix(sourceCopies.count), atTarget = answers.suffix(targetCopies.count)
        // The source's copies are equal with writes held; if they are not, the reference is what a
        // majority of them hold, never merely the first to answer (a bad copy must not become the
        // measure of the others).
        let answered = atSource.filter { $0.flow != nil }
        func same(_ a: FlowReply, _ b: FlowReply) -> Bool { a.listCounts == b.listCounts && a.listDigests == b.listDigests }
        guard let reference = answered.first(where: { candidate in
            2 * answered.filter { same($0.flow!, candidate.flow!) }.count > answered.count
        }), let expected = reference.flow else {
            throw ErrorReply(.unavailable, answered.isEmpty
                ? "no copy of shard \(source) answered to verify the copy to shard \(target)"
                : "the in-sync copies of shard \(source) hold different entries flowing to shard \(target), and no majority "
                    + "agrees: remove the wrong one (sightline cluster remove-replica) and the move resumes")
        }
        func agrees(_ flow: FlowReply?) -> Bool {
            flow.map { $0.listCounts == expected.listCounts && $0.listDigests == expected.listDigests } ?? false
        }
        func reason(_ answer: (call: WorkerCall, flow: FlowReply?, error: String)) -> String {
            answer.flow == nil
                ? "it did not answer the move's verify (\(answer.error))"
                : "its entries flowing from shard \(source) to shard \(target) differ from \(reference.call.url)'s"
        }
        var check = FlowCheck()
        // Source copies: equal to the reference, or out of the set (writes are held: they must be equal).
        for answer in atSource where !agrees(answer.flow) && answer.call.url != reference.call.url {
            check.stale.append((source, answer.call.url, reason(answer)))
        }
        guard atTarget.contains(where: { agrees($0.flow) }) else {
            check.recopy = true
            return check
        }
        for answer in atTarget where !agrees(answer.flow) { check.stale.append((target, answer.call.url, reason(answer))) }
        return check
    }

    /// The copies a verify compares: a replicated shard's in-sync ones, else its one worker.
    func verifiableCopies(of shard: ShardID) -> [String] {
        shardCalls.isReplicated(shard) ? directory.inSyncCopies(of: shard) : directory.copies(of: shard).map(\.url)
    }
}

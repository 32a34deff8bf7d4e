import ClusterClient
import ClusterModel
@testable import CoordinatorService
import Foundation
import Testing
import Wire

/// A fault schedule (seed 101, 12 min) ended with a replicated shard whose every copy was out of
/// sync, so nothing could catch up and its writes waited forever. The health loop read a copy's
/// last write, then the shard's last acknowledged write: when a write in flight was acknowledged
/// between the two reads, the copy that had applied it looked stale and was demoted — the only
/// in-sync copy, or both. Reproduced here by answering the health probe first and applying and
/// acknowledging a write before the reply reaches the coordinator.
@Suite struct HealthProbeRaceTests {
    @Test func aWriteAcknowledgedDuringTheHealthProbeDemotesNobody() throws {
        let cluster = try InProcessCluster(workerCount: 2, replication: 2, topLevel: "write_quorum = 1")
        let client = cluster.client()
        _ = try SmallData.add(SmallData.base.slice(0 ..< 50), to: client)
        let shard = ShardID(0)
        let before = try #require(cluster.coordinator.routing.withLock { $0.replicas(of: shard) }.map(\.state))
        #expect(before == [ReplicaState.inSync, ReplicaState.inSync])
        let last = try cluster.coordinator.catalog.committedSeq(shard: 0)

        // A write holds the shard's lock (so the probe runs as it does beside a write in flight);
        // copy 0 answers the probe, then applies that write and it is acknowledged.
        let worker = cluster.workers[0]
        let coordinator = cluster.coordinator
        let id: UInt64 = 900
        let add = AddBatch(ids: [id], vectors: SmallData.batch(SmallData.base.slice(60 ..< 61)),
                           codebookVersion: coordinator.codebook.version)
        cluster.network.listen(cluster.workerURLs[0]) { frame in
            let reply = worker.handle(frame)
            if case .health = (try? WireCodec.decodeRequest(frame))?.body {
                let sequence = WriteSequence(seq: last + 1, previous: last)
                for copy in cluster.workers {
                    let envelope = Envelope(requestID: 1, token: "in-process", sequence: sequence)
                    let reply = copy.handle(WireCodec.encode(Request(envelope: envelope, body: .add(add))))
                    if case .error(let error) = (try? WireCodec.decodeResponse(reply))?.body { Issue.record("the write failed: \(error)") }
                }
                try? coordinator.catalog.recordCommittedSeq(shard: 0, seq: last + 1)
            }
            return reply
        }
        coordinator.writer.withShardLocks([shard]) { coordinator.writer.demoteStaleCopies(of: shard) }
        cluster.network.listen(cluster.workerURLs[0]) { worker.handle($0) }

        let after = coordinator.routing.withLock { $0.replicas(of: shard) }.map(\.state)
        #expect(after == [ReplicaState.inSync, ReplicaState.inSync], "copies demoted for a write they applied: \(after)")
        // And the next probe, with nothing in flight, finds both copies complete.
        coordinator.writer.demoteStaleCopies(of: shard)
        #expect(coordinator.routing.withLock { $0.replicas(of: shard) }.map(\.state) == [ReplicaState.inSync, ReplicaState.inSync])
    }
}

import ClusterClient
import ClusterModel
import Foundation
import Testing
import Wire

/// A move sends its transfers to one copy of a shard, outside the numbered writes: a replica
/// that joined meanwhile raced them (both copies ended equal once, by luck). Until moves carry
/// replicas, a replica joins only between moves.
@Suite struct ReplicaDuringMoveTests {
    @Test func aReplicaCannotJoinWhileAMoveRuns() throws {
        let cluster = try InProcessCluster(workerCount: 2, moveStepPauseMilliseconds: 3000)
        let client = cluster.client()
        _ = try SmallData.add(SmallData.base.slice(0 ..< 200), to: client)
        let started = try client.changeCluster(ClusterChangeRequest(change: .removeWorker(shard: 1)))
        try #require(started.move != nil, "the move did not start")
        do {
            _ = try client.changeCluster(ClusterChangeRequest(change: .addReplica(url: "inproc://spare", host: "", shard: 0,
                                                                                    replacing: "")))
            Issue.record("a replica was accepted during a move")
        } catch {
            #expect(error.reply.code == .conflict, "\(error)")
            #expect(error.reply.message.contains("move"), "\(error.reply.message)")
        }
    }
}

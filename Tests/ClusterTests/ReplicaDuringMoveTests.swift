import ClusterClient
import ClusterModel
import Foundation
import ShardStore
import Testing
import Wire

/// A copy may join a shard while a move runs: the move's pages reach a replicated target as
/// numbered writes, which the joining copy replays from its peer's log after its full copy.
/// Real processes: r = 2, shards 0 and 1, then shard 2 added (workers 4 and 5) while worker 6
/// joins shard 2 mid-move as its third copy.
@Suite struct ReplicaDuringMoveTests {
    @Test func aCopyJoinsATargetWhileTheMoveCopiesToIt() throws {
        let cluster = try LocalCluster(name: "replica-during-move", workerCount: 7, index: (16, 16, 4), codebooks: SmallData.codebooks,
                                       configuredWorkers: 4, replication: 2, topLevel: "write_quorum = 1")
        cluster.moveStepPauseMilliseconds = 400
        defer { cluster.stop() }
        try cluster.start()
        let client = try cluster.client()
        _ = try SmallData.add(SmallData.base.slice(0 ..< 3000), to: client)
        // Workers 4 and 5 run with --shard 2 (index / replication); worker 6 is restarted as a third copy of it.
        cluster.kill(shard: 6)
        try FileManager.default.removeItem(atPath: "\(cluster.folder)/worker-6")
        try cluster.startWorker(6, as: 2)
        Thread.sleep(forTimeInterval: 0.3)
        let started = try cluster.sightline(["cluster", "add-shard", "--url", cluster.workerURLs[4], "--url", cluster.workerURLs[5],
                                             "--rate", "2000", "--no-wait"])
        try #require(started.status == 0, "\(started.output)")
        // Once pages are flowing, the third copy joins the target.
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, (try? client.clusterStatus())?.move.map({ $0.step == "copy" && $0.copied > 0 }) != true {
            Thread.sleep(forTimeInterval: 0.05)
        }
        let joined = try cluster.sightline(["cluster", "add-worker", "--url", cluster.workerURLs[6], "--shard", "2"])
        #expect(joined.status == 0, "\(joined.output)")
        let moved = try cluster.sightline(["cluster", "rebalance"])
        #expect(moved.status == 0, "\(moved.output)")
        let status = try client.clusterStatus()
        let copies = status.shards.filter { $0.shard == 2 }
        #expect(copies.count == 3 && copies.allSatisfy { $0.replicaState == "in-sync" }, "\(copies)")
        let answer = try client.search(SmallData.batch(SmallData.queries.slice(0 ..< 5)), options: SearchOptions(k: 10, nprobe: 16))
        #expect(!answer.partial)
        try waitForPurges(cluster, shards: [0, 1, 2, 3, 4, 5, 6])
        cluster.stop()
        // Every copy of shard 2 holds the same ids, and the shards together hold each id once.
        var held: [[UInt64]] = []
        for worker in 0 ..< 7 {
            let shard = UInt32(worker < 4 ? worker / 2 : 2)
            let store = try ShardDatabase(directory: "\(cluster.folder)/worker-\(worker)", cluster: cluster.clusterName, shard: shard)
            held.append(try store.loadAll(dimension: 16).map(\.id).sorted())
        }
        #expect(held[4] == held[5] && held[5] == held[6], "shard 2's copies hold \(held[4].count), \(held[5].count), \(held[6].count)")
        #expect(held[0] == held[1] && held[2] == held[3])
        #expect((held[0] + held[2] + held[4]).sorted() == (0 ..< 3000).map { UInt64($0) })
        #expect(!held[4].isEmpty)
    }
}

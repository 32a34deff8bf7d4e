import ClusterClient
import Foundation
import Testing
import Wire

/// The commands that change a replicated cluster's copies refuse what they must, before changing
/// anything: a new shard with the wrong number of copies or two copies on one host, a replication
/// without the workers it needs, a copy whose leaving would leave its shard unable to acknowledge
/// writes. An aborted new shard leaves no copies behind, and the same workers can then join.
/// Real processes: r = 2, shards 0 and 1 (workers 0–3), spares 4 and 5 (started with --shard 2).
@Suite struct ReplicaChangesTests {
    @Test func refusalsAbortAndALeavingCopy() throws {
        let cluster = try LocalCluster(name: "replica-changes", workerCount: 6, index: (16, 16, 4), codebooks: SmallData.codebooks,
                                       configuredWorkers: 4, replication: 2)
        cluster.moveStepPauseMilliseconds = 300
        defer { cluster.stop() }
        try cluster.start()
        let client = try cluster.client()
        _ = try SmallData.add(SmallData.base.slice(0 ..< 2000), to: client)
        let (spareA, spareB) = (cluster.workerURLs[4], cluster.workerURLs[5])

        let oneCopy = try cluster.sightline(["cluster", "add-shard", "--url", spareA])
        #expect(oneCopy.status != 0 && oneCopy.output.contains("2 workers"), "\(oneCopy.output)")
        let sharedHost = try cluster.sightline(["cluster", "add-shard", "--url", spareA, "--host", "h", "--url", spareB, "--host", "h"])
        #expect(sharedHost.status != 0 && sharedHost.output.contains("never share a host"), "\(sharedHost.output)")
        let emptyURL = try cluster.sightline(["cluster", "add-shard", "--url", "", "--url", spareB])
        #expect(emptyURL.status != 0 && emptyURL.output.contains("distinct addresses"), "\(emptyURL.output)")
        let emptyJoin = try cluster.sightline(["cluster", "set-replication", "3", "--url", "", "--url", spareB])
        #expect(emptyJoin.status != 0 && emptyJoin.output.contains("no empty --url"), "\(emptyJoin.output)")
        let noWorkers = try cluster.sightline(["cluster", "set-replication", "3"])
        #expect(noWorkers.status != 0 && noWorkers.output.contains("needs 2 new copies"), "\(noWorkers.output)")
        let dryRun = try cluster.sightline(["cluster", "set-replication", "1", "--dry-run"])
        #expect(dryRun.status == 0, "\(dryRun.output)")
        #expect(try client.clusterStatus().shards.count == 4, "a dry run changed the copies")

        // A new shard of two copies, aborted while it copies: its copies leave with it.
        let started = try cluster.sightline(["cluster", "add-shard", "--url", spareA, "--url", spareB, "--rate", "200", "--no-wait"])
        try #require(started.status == 0, "\(started.output)")
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline, (try? client.clusterStatus())?.move.map({ $0.step == "copy" && $0.copied > 0 }) != true {
            Thread.sleep(forTimeInterval: 0.05)
        }
        let aborted = try cluster.sightline(["cluster", "rebalance", "--abort"])
        #expect(aborted.status == 0, "\(aborted.output)")
        #expect(try !client.clusterStatus().shards.contains { $0.shard == 2 })
        // The same workers join again (what they received is no longer owned: purged, not served).
        let again = try cluster.sightline(["cluster", "add-shard", "--url", spareA, "--url", spareB])
        #expect(again.status == 0, "\(again.output)")
        // (Vector counts in the status are the health loop's, refreshed once a second.)
        var grown = try client.clusterStatus().shards.filter { $0.shard == 2 }
        let counted = Date().addingTimeInterval(5)
        while Date() < counted, !grown.allSatisfy({ $0.vectorCount > 0 }) {
            Thread.sleep(forTimeInterval: 0.2)
            grown = try client.clusterStatus().shards.filter { $0.shard == 2 }
        }
        #expect(grown.count == 2 && grown.allSatisfy { $0.replicaState == "in-sync" && $0.vectorCount > 0 }, "\(grown)")
        #expect(try client.stats().1 == 2000)

        // Worker 1 (shard 0's second copy) dies: worker 0 may not leave, worker 1 may.
        cluster.kill(shard: 1)
        let down = Date().addingTimeInterval(20)
        while Date() < down, try client.clusterStatus().shards.first(where: { $0.url == cluster.workerURLs[1] })?.reachable != false {
            Thread.sleep(forTimeInterval: 0.1)
        }
        let lastLive = try cluster.sightline(["cluster", "remove-replica", "--shard", "0", "--url", cluster.workerURLs[0]])
        #expect(lastLive.status != 0 && lastLive.output.contains("cannot leave"), "\(lastLive.output)")
        let dead = try cluster.sightline(["cluster", "remove-replica", "--shard", "0", "--url", cluster.workerURLs[1]])
        #expect(dead.status == 0, "\(dead.output)")
        #expect(try client.clusterStatus().shards.filter { $0.shard == 0 }.map(\.url) == [cluster.workerURLs[0]])
        // Writes to shard 0 are acknowledged by its one copy now, and every vector is still found.
        _ = try SmallData.add(SmallData.base.slice(2000 ..< 2200), firstID: 2000, to: client)
        let stats = try client.call(.stats)
        guard case .stats(_, let total) = stats else { throw ClusterTestError.notHealthy("no stats") }
        #expect(total == 2200)
    }
}

import ClusterClient
import Foundation
import Testing
import Wire

/// kill -9 of the coordinator, a move's source or its target at chosen steps; after a restart
/// the move completes and nothing acknowledged is lost or stored twice.
@Suite(.serialized) struct MoveFaultTests {
    enum Victim { case coordinator, worker(Int) }

    @Test func killsAtEveryStepOfAMoveLoseAndDuplicateNothing() throws {
        let (cluster, client, acknowledged) = try growableCluster("movefault", workers: 5, pause: 400)
        defer { cluster.stop() }
        let checker = CheckingClient(cluster: cluster, acknowledged: acknowledged, firstRow: 1500, faults: true)
        checker.start()

        // Maps: {0,1,2} +3 −3 +4 −0 +3 −1 → {2,3,4}.
        let scenarios: [(change: [String], victim: Victim, step: String)] = [
            (["add-worker", "--url", cluster.workerURLs[3]], .coordinator, "copy"),
            (["remove-worker", "--shard", "3"], .worker(3), "verify"),      // the source
            (["add-worker", "--url", cluster.workerURLs[4]], .worker(4), "flip"),  // the target
            (["remove-worker", "--shard", "0"], .coordinator, "delete"),
            (["add-worker", "--url", cluster.workerURLs[3]], .worker(3), "copy"),  // the target
            (["remove-worker", "--shard", "1"], .worker(1), "delete"),      // the source
            (["add-worker", "--url", cluster.workerURLs[0]], .worker(2), "begin"),  // a source
        ]
        for scenario in scenarios {
            let started = try cluster.sightline(["cluster"] + scenario.change + ["--no-wait"])
            #expect(started.status == 0, "\(scenario.change): \(started.output)")
            try waitForStep(scenario.step, cluster: cluster)
            switch scenario.victim {
            case .coordinator:
                cluster.killCoordinator()
                Thread.sleep(forTimeInterval: 0.3)
                try cluster.startCoordinator()
            case .worker(let shard):
                cluster.kill(shard: shard)
                Thread.sleep(forTimeInterval: 0.3)
                try cluster.startWorker(shard)
            }
            try waitForStep("done", cluster: cluster, timeout: 90)
        }
        checker.stop()
        let stats = checker.stats.withLock { $0 }
        #expect(stats.mismatches.isEmpty, "\(stats.mismatches)")
        #expect(stats.searches >= 20)
        let final = try client.search(SmallData.batch(SmallData.queries), options: SearchOptions(k: 10, nprobe: 4))
        let expected = try acknowledged.search(SmallData.queries, k: 10, nprobe: 4)
        #expect(!final.partial && final.results == expected)
        #expect(try client.clusterStatus().shards.map(\.shard) == [0, 2, 3, 4])
        try checkStoredOnce(cluster, acknowledged: acknowledged, live: [0, 2, 3, 4], retired: [1])
    }

    /// Polls the coordinator (through restarts) until the move reaches `step`.
    func waitForStep(_ step: String, cluster: LocalCluster, timeout: Double = 30) throws {
        let deadline = Date().addingTimeInterval(timeout)
        var last = ""
        while Date() < deadline {
            if let client = try? cluster.client(), let status = try? client.clusterStatus(deadlineMilliseconds: 1000) {
                last = "\(status.move?.step ?? "none") \(status.move?.error ?? "")"
                if status.move?.step == step { return }
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
        throw ClusterTestError.notHealthy("the move never reached \(step) (last: \(last))\n\(cluster.logs())")
    }

    @Test func aConfigThatDisagreesWithTheCatalogIsReportedAndTheCatalogsMapKept() throws {
        let cluster = try LocalCluster(name: "disagree", workerCount: 4, index: (16, 16, 4), codebooks: SmallData.codebooks,
                                       configuredWorkers: 3)
        defer { cluster.stop() }
        try cluster.start()
        let client = try cluster.client()
        _ = try SmallData.add(SmallData.base.slice(0 ..< 600), to: client)
        // A user adds a fourth worker to the config and restarts the coordinator.
        cluster.killCoordinator()
        let config = try String(contentsOfFile: cluster.configPath, encoding: .utf8)
        try (config + "[[workers]]\nshard = 3\nurl = \"\(cluster.workerURLs[3])\"\n").write(toFile: cluster.configPath, atomically: true,
                                                                                            encoding: .utf8)
        try cluster.startCoordinator()
        try cluster.waitUntilHealthy()
        let status = try client.clusterStatus()
        #expect(status.shards.map(\.shard) == [0, 1, 2])
        #expect(status.warning.contains("routing follows the catalog's map"), "\(status.warning)")
        #expect(cluster.logs().contains("routing follows the catalog's map"))
        // Ids still route to the shards that hold them: a delete deletes, searches are complete.
        let found = try client.search(SmallData.batch(SmallData.base.slice(10 ..< 11)), options: SearchOptions(k: 1, nprobe: 16))
        #expect(!found.partial && found.results[0].ids == [10])
        guard case .delete(let deleted) = try client.call(.delete(ids: [10])) else { throw ClusterTestError.notHealthy("no delete reply") }
        #expect(deleted == 1)
        let after = try client.search(SmallData.batch(SmallData.base.slice(10 ..< 11)), options: SearchOptions(k: 1, nprobe: 16))
        #expect(after.results[0].ids != [10])
        #expect(try client.stats().total == 599)
    }
}

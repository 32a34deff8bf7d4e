import ClusterClient
import Foundation
import Testing
import Wire

/// Backups and restores of a replicated cluster, with real processes on loopback. A backup
/// failed when one copy of a shard was dead (exactly when users want one); a restore covered
/// only the copies the config names, and a copy added later fed its newer data back into the
/// restored ones (797 vectors left of a backup of 1,797).
@Suite(.serialized) struct ReplicatedBackupTests {
    @Test func aBackupReadsEachShardFromACopyThatAnswers() throws {
        let cluster = try LocalCluster(name: "backup-degraded", workerCount: 4, index: (16, 16, 4), codebooks: SmallData.codebooks,
                                       replication: 2, topLevel: "write_quorum = 1")
        defer { cluster.stop() }
        try cluster.start()
        let client = try cluster.client()
        _ = try SmallData.add(SmallData.base.slice(0 ..< 800), to: client)
        try ReplicationTests.waitInSync(cluster, client)
        cluster.kill(shard: 0)  // one copy of shard 0
        let backup = "\(cluster.folder)/backup"
        let made = try cluster.sightline(["cluster", "backup", "--out", backup])
        #expect(made.status == 0, "\(made.output)\n\(cluster.logs())")
        for file in ["backup.json", "catalog.sqlite", "shard-0.sqlite", "shard-1.sqlite"] {
            #expect(FileManager.default.fileExists(atPath: "\(backup)/\(file)"), "\(file) missing")
        }
    }

    @Test func aRestoreIsNotUndoneByACopyItDidNotCover() throws {
        // Copies A and B of shard 0 from the config; C joins later with add-worker --shard 0.
        let cluster = try LocalCluster(name: "restore-third", workerCount: 3, index: (16, 16, 4), codebooks: SmallData.codebooks,
                                       configuredWorkers: 2, replication: 2)
        defer { cluster.stop() }
        func startThird() throws {
            cluster.workers[2] = try cluster.launch(
                [LocalCluster.binary("sightline-worker"), "--listen", cluster.workerURLs[2], "--data", "\(cluster.folder)/third",
                 "--cluster", cluster.clusterName, "--shard", "0"], role: "third", log: "\(cluster.folder)/third.log")
        }
        for shard in 0 ..< 2 { try cluster.startWorker(shard) }
        try cluster.startCoordinator()
        try cluster.waitUntilHealthy()
        try startThird()
        Thread.sleep(forTimeInterval: 0.5)
        let joined = try cluster.sightline(["cluster", "add-worker", "--url", cluster.workerURLs[2], "--shard", "0"])
        #expect(joined.status == 0, "\(joined.output)")
        let client = try cluster.client()
        _ = try SmallData.add(SmallData.base.slice(0 ..< 900), to: client)
        try ReplicationTests.waitInSync(cluster, client)
        let backup = "\(cluster.folder)/backup"
        let made = try cluster.sightline(["cluster", "backup", "--out", backup])
        try #require(made.status == 0, "\(made.output)")
        _ = try client.call(.delete(ids: (0 ..< 500).map { UInt64($0) }))
        #expect(try client.stats().total == 400)

        cluster.stop()
        var output = ""
        let restore = [LocalCluster.binary("sightline"), "cluster", "restore", "--from", backup, "--config", cluster.configPath, "--force"]
        #expect(TestHosts.run(restore, output: &output) == 0, "\(output)")
        #expect(output.contains(cluster.workerURLs[2]), "the restore did not name the copy it left out: \(output)")
        for shard in 0 ..< 2 { try cluster.startWorker(shard) }
        try startThird()
        try cluster.startCoordinator()
        try cluster.waitUntilHealthy()
        let restored = try cluster.client()
        try ReplicationTests.waitInSync(cluster, restored)
        #expect(try restored.stats().total == 900, "the restore was undone\n\(cluster.logs())")
        let digests = try (0 ..< 3).map { try ReplicationTests.digest(cluster, worker: $0) }
        #expect(digests.allSatisfy { $0.listCounts.reduce(0, +) == 900 && $0.listDigests == digests[0].listDigests },
                "\(digests.map { $0.listCounts.reduce(0, +) })")
    }
}

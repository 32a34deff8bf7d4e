import ClusterClient
import Foundation
import Synchronization
import Testing
import Wire

/// `sightline cluster backup` while the cluster serves, then `restore` into the stopped cluster.
@Suite(.serialized) struct BackupTests {
    func fetch(_ client: ServiceClient, _ ids: [UInt64]) throws -> FetchedVectors {
        guard case .fetchVectors(let fetched) = try client.call(.fetchVectors(ids: ids)) else { throw ClientError.unexpectedReply("") }
        return fetched
    }

    @Test func aBackupRestoresEveryIdAsOfItsMoment() throws {
        let cluster = try LocalCluster(name: "backup", workerCount: 3, index: (16, 16, 4), codebooks: SmallData.codebooks)
        defer { cluster.stop() }
        try cluster.start()
        let client = try cluster.client()
        let ids = (UInt64(0) ..< 1500).map { $0 }
        _ = try client.add(AddBatch(ids: ids, vectors: SmallData.batch(SmallData.base.slice(0 ..< 1500)),
                                    labels: ids.map { Int32($0 % 7) }))
        let before = try fetch(client, ids)
        #expect(before.found.count == 1500)

        // Searches go on while the copies are made.
        let searching = Atomic<Bool>(true), failures = Mutex<[String]>([]), searches = Atomic<Int>(0)
        let searcher = Thread {
            guard let reader = try? cluster.client() else { return }
            while searching.load(ordering: .relaxed) {
                do {
                    _ = try reader.search(SmallData.batch(SmallData.queries.slice(0 ..< 1)), options: SearchOptions(k: 5, nprobe: 4))
                    searches.add(1, ordering: .relaxed)
                } catch { failures.withLock { $0.append("\(error)") } }
            }
        }
        searcher.start()
        let backup = "\(cluster.folder)/backup"
        let made = try cluster.sightline(["cluster", "backup", "--out", backup, "--json"])
        searching.store(false, ordering: .relaxed)
        #expect(made.status == 0, "\(made.output)\n\(cluster.logs())")
        #expect(failures.withLock { $0 }.isEmpty && searches.load(ordering: .relaxed) > 0)
        for file in ["backup.json", "catalog.sqlite", "shard-0.sqlite", "shard-1.sqlite", "shard-2.sqlite"] {
            #expect(FileManager.default.fileExists(atPath: "\(backup)/\(file)"), "\(file) missing")
        }
        #expect(try cluster.sightline(["cluster", "backup", "--out", backup]).status != 0)  // never over a backup
        // One backup at a time: a second snapshot waits for the first one's finish.
        _ = try client.call(.backup(.snapshot))
        var second: ErrorCode?
        do { _ = try client.call(.backup(.snapshot)) } catch { if case .server(let reply) = error { second = reply.code } }
        #expect(second == .conflict)
        _ = try client.call(.backup(.finish))
        // A damaged copy is refused before anything is replaced.
        let damaged = "\(cluster.folder)/damaged"
        try FileManager.default.copyItem(atPath: backup, toPath: damaged)
        try FileHandle(forWritingTo: URL(fileURLWithPath: "\(damaged)/shard-1.sqlite")).truncate(atOffset: 4096)

        // After the backup: more vectors, fewer vectors; a restore forgets both.
        _ = try client.add(AddBatch(ids: (1500 ..< 1800).map { UInt64($0) }, vectors: SmallData.batch(SmallData.base.slice(1500 ..< 1800))))
        _ = try client.call(.delete(ids: Array(ids[0 ..< 100])))
        let restore = [LocalCluster.binary("sightline"), "cluster", "restore", "--from", backup, "--config", cluster.configPath]
        var output = ""
        #expect(TestHosts.run(restore + ["--force"], output: &output) != 0)     // the services hold their directories
        cluster.stop()
        #expect(TestHosts.run(restore, output: &output) != 0)                   // data is there: --force says replace
        let damagedRestore = [LocalCluster.binary("sightline"), "cluster", "restore", "--from", damaged, "--config", cluster.configPath,
                              "--force"]
        #expect(TestHosts.run(damagedRestore, output: &output) != 0)
        #expect(TestHosts.run(restore + ["--force"], output: &output) == 0, "\(output)")

        try cluster.start()
        let restored = try cluster.client()
        let after = try fetch(restored, (0 ..< 1800).map { UInt64($0) })
        func byID(_ fetched: FetchedVectors) -> [UInt64: [Float]] {
            let d = fetched.dimension
            return Dictionary(uniqueKeysWithValues: fetched.found.enumerated().map { ($1, Array(fetched.values[$0 * d ..< ($0 + 1) * d])) })
        }
        #expect(Set(after.found) == Set(ids), "\(after.found.count) ids found")
        #expect(byID(after) == byID(before))
        guard case .identify(let hit) = try restored.call(.identify(vector: Array(SmallData.base.row(42)), threshold: 1e9, nprobe: 16))
        else { throw ClientError.unexpectedReply("") }
        #expect(hit.id == 42 && hit.label == 42 % 7)
    }
}

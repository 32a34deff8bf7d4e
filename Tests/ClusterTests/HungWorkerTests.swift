import ClusterClient
import ClusterModel
import Foundation
import Testing
import VectorMath
import Wire

/// A hung worker (SIGSTOP) and a second coordinator on one catalog, with real processes.
@Suite(.serialized) struct HungWorkerTests {
    /// The coordinator waits one deadline or two for a hung worker, then its breaker opens: later
    /// searches are answered without it at once (partial, naming it), adds that need it fail at
    /// once naming what did commit, and once the worker answers a probe again everything is whole.
    @Test func aHungWorkerCostsADeadlineOnceNotEveryRequest() throws {
        let cluster = try LocalCluster(name: "hung", workerCount: 3, index: (16, 16, 4), codebooks: SmallData.codebooks)
        defer { cluster.signal(shard: 1, SIGCONT); cluster.stop() }
        try cluster.start()
        let client = try cluster.client()
        _ = try SmallData.add(SmallData.base.slice(0 ..< 2000), to: client)
        let options = SearchOptions(k: 10, nprobe: 16)
        let queries = SmallData.batch(SmallData.queries.slice(0 ..< 5))
        let full = try client.search(queries, options: options)

        cluster.signal(shard: 1, SIGSTOP)
        let deadline = 3000, searches = 30
        let started = Date()
        for _ in 0 ..< searches {
            let reply = try client.search(queries, options: options, deadlineMilliseconds: deadline)
            #expect(reply.partial && reply.missingShards == [1])
        }
        let elapsed = Date().timeIntervalSince(started)
        // Waiting a deadline per search would take 90 s; the breaker opens after two failures.
        #expect(elapsed < 4 * Double(deadline) / 1000, "\(searches) searches took \(elapsed) s with one hung worker")

        let ids = (UInt64(5000) ..< 5030).map { $0 }
        let addStarted = Date()
        var refusal: ErrorReply?
        do {
            _ = try client.add(AddBatch(ids: ids, vectors: SmallData.batch(SmallData.base.slice(2000 ..< 2030))))
        } catch {
            if case .server(let reply) = error { refusal = reply }
        }
        let shards = (0 ..< 3).map { ShardID(UInt32($0)) }
        #expect(refusal?.code == .unavailable, "\(String(describing: refusal))")
        #expect(refusal?.committedIDs == ids.filter { Rendezvous.owner(of: $0, among: shards) != ShardID(1) })
        #expect(Date().timeIntervalSince(addStarted) < Double(deadline) / 1000, "the add waited for the hung shard")

        cluster.signal(shard: 1, SIGCONT)
        var healed: SearchReply?
        for _ in 0 ..< 100 where healed?.partial != false {
            healed = try client.search(queries, options: options)
            if healed?.partial != false { Thread.sleep(forTimeInterval: 0.1) }
        }
        #expect(healed == full)
        #expect(cluster.logs().contains("shard 1 stopped answering") && cluster.logs().contains("shard 1 answers again"))
    }

    /// A second coordinator on the same catalog refuses to start, naming the first.
    @Test func aSecondCoordinatorOnTheSameCatalogRefuses() throws {
        let cluster = try LocalCluster(name: "twice", workerCount: 1, index: (16, 16, 4), codebooks: SmallData.codebooks)
        defer { cluster.stop() }
        try cluster.start()
        let first = try #require(cluster.coordinator)
        let second = try cluster.launch([LocalCluster.binary("sightline-coordinator"), "--config", cluster.configPath,
                                         "--codebooks", "\(cluster.folder)/codebooks.slix"],
                                        role: "coordinator", log: "\(cluster.folder)/second.log")
        second.waitUntilExit()
        let log = (try? String(contentsOfFile: "\(cluster.folder)/second.log", encoding: .utf8)) ?? ""
        #expect(second.terminationStatus == 2)
        #expect(log.contains("another coordinator (pid \(first.processIdentifier)) is using"), "\(log)")
        #expect(try cluster.client().health().state == "serving")
        // Killed, it leaves no lock behind: a new coordinator starts on the same catalog.
        cluster.killCoordinator()
        try cluster.startCoordinator()
        try cluster.waitUntilHealthy()
    }
}

import ClusterClient
import ClusterModel
import Datasets
import Foundation
import Testing
import VectorIndex
import VectorMath
import Wire

/// Replication factor 2 with real processes on loopback: a worker killed, hung or replaced while
/// a client adds and searches costs no error and no partial answer; a copy that missed writes
/// catches up (same ids and digests as its peer) before it serves; nothing acknowledged is lost
/// or doubled.
@Suite(.serialized) struct ReplicationTests {
    /// Adds `round`'s vectors and searches; every answer must be whole and equal a single index's
    /// over the vectors acknowledged so far.
    final class Load {
        let client: ServiceClient
        var single: IVFPQIndex
        var acknowledged: [UInt64] = []
        var problems: [String] = []
        let queries = SmallData.batch(SmallData.queries.slice(0 ..< 10))
        let options = SearchOptions(k: 10, nprobe: 16)

        init(client: ServiceClient) throws {
            self.client = client
            single = try IndexFile.decode(SmallData.codebooks)
        }

        func round(_ number: Int) {
            let first = 20 * number
            let ids = (first ..< first + 20).map { UInt64($0) }
            let vectors = SmallData.base.slice(first ..< first + 20)
            do {
                _ = try client.add(AddBatch(ids: ids, vectors: SmallData.batch(vectors)), deadlineMilliseconds: 10_000)
                try single.add(vectors, ids: ids.map { VectorID($0) })
                acknowledged += ids
            } catch {
                problems.append("round \(number): add failed: \(error)")
            }
            do {
                let reply = try client.search(queries, options: options, deadlineMilliseconds: 5000)
                if reply.partial { problems.append("round \(number): partial answer, missing \(reply.missingShards)") }
                let expected = try single.search(SmallData.queries.slice(0 ..< 10), parameters: SearchParameters(k: 10, probeCount: 16))
                for (query, list) in reply.results.enumerated()
                where list.ids != expected[query].map(\.id.rawValue) || list.distances != expected[query].map(\.distance) {
                    problems.append("round \(number): query \(query) differs from a single index")
                    break
                }
            } catch {
                problems.append("round \(number): search failed: \(error)")
            }
        }
    }

    /// These tests keep writing while a copy is down: they choose availability over the default
    /// quorum (a majority, i.e. both copies of two), as an operator may.
    static let writeOnOneCopy = "write_quorum = 1"

    /// Per-list counts and digests and the last write of the worker at `url`.
    static func digest(_ cluster: LocalCluster, worker: Int) throws -> ReplicaPage {
        let worker = try ServiceClient(url: cluster.workerURLs[worker], token: cluster.token)
        guard case .replicaPull(let page) = try worker.call(.replicaPull(.digest)) else { throw ClusterTestError.notHealthy("no digest") }
        return page
    }

    /// Waits until every copy the status shows is in sync.
    static func waitInSync(_ cluster: LocalCluster, _ client: ServiceClient, timeout: Double = 60) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let status = try client.clusterStatus()
            if status.shards.allSatisfy({ $0.replicaState == "in-sync" }) { return }
            Thread.sleep(forTimeInterval: 0.2)
        }
        throw ClusterTestError.notHealthy("replicas never all in sync:\n\(cluster.logs())")
    }

    @Test func killedHungAndRestartedReplicasCostNothing() throws {
        let cluster = try LocalCluster(name: "replicas", workerCount: 4, index: (16, 16, 4), codebooks: SmallData.codebooks,
                                       replication: 2,
                                       topLevel: ReplicationTests.writeOnOneCopy)
        defer { cluster.signal(shard: 2, SIGCONT); cluster.stop() }
        try cluster.start()
        let client = try cluster.client()
        let load = try Load(client: client)
        for number in 0 ..< 5 { load.round(number) }

        // kill -9 of shard 0's first copy: its peer answers; the writes it misses make it fall behind.
        cluster.kill(shard: 0)
        for number in 5 ..< 15 { load.round(number) }
        let status = try client.clusterStatus()
        // Out of the in-sync set ("down" once the health loop has missed it).
        let killed = status.shards.first { $0.url == cluster.workerURLs[0] }?.replicaState ?? ""
        #expect(["down", "catching-up"].contains(killed), "\(killed)")
        // Once its breaker opens, searches skip the dead copy: nothing but a probe's answer closes it.
        Thread.sleep(forTimeInterval: 3)
        for number in 100 ..< 110 { load.round(number) }
        #expect(cluster.logs().contains("replica at \(cluster.workerURLs[0]) stopped answering"))
        #expect(!cluster.logs().contains("replica at \(cluster.workerURLs[0]) answers again"), "\(cluster.logs())")

        // Restarted, it catches up from its peer before it serves again.
        try cluster.startWorker(0)
        try ReplicationTests.waitInSync(cluster, client)
        let (mine, theirs) = (try ReplicationTests.digest(cluster, worker: 0), try ReplicationTests.digest(cluster, worker: 1))
        #expect(mine.listCounts == theirs.listCounts && mine.listDigests == theirs.listDigests && mine.lastSeq == theirs.lastSeq)
        #expect(cluster.logs().contains("caught up from"))
        for number in 15 ..< 20 { load.round(number) }

        // SIGSTOP of shard 1's first copy: reads hedge to its peer, the next write leaves it behind.
        cluster.signal(shard: 2, SIGSTOP)
        for number in 20 ..< 30 { load.round(number) }
        cluster.signal(shard: 2, SIGCONT)
        try ReplicationTests.waitInSync(cluster, client)
        let (hung, peer) = (try ReplicationTests.digest(cluster, worker: 2), try ReplicationTests.digest(cluster, worker: 3))
        #expect(hung.listCounts == peer.listCounts && hung.listDigests == peer.listDigests && hung.lastSeq == peer.lastSeq)
        for number in 30 ..< 35 { load.round(number) }

        // kill -9 of the coordinator: restarted, it rebuilds its view from the catalog and the workers.
        cluster.killCoordinator()
        try cluster.startCoordinator()
        try cluster.waitUntilHealthy()
        for number in 35 ..< 40 { load.round(number) }

        #expect(load.problems.isEmpty, "\(load.problems.joined(separator: "\n"))\n\(cluster.logs())")
        // Every acknowledged id once: per shard, both copies hold exactly the ids rendezvous gives it.
        guard case .fetchVectors(let fetched) = try client.call(.fetchVectors(ids: load.acknowledged)) else {
            throw ClusterTestError.notHealthy("fetch sent another reply")
        }
        #expect(Set(fetched.found) == Set(load.acknowledged) && fetched.found.count == load.acknowledged.count)
        let (_, total) = try client.stats()
        #expect(total == UInt64(load.acknowledged.count))
        let counts = try (0 ..< 4).map { try ReplicationTests.digest(cluster, worker: $0).listCounts.reduce(0, +) }
        #expect(counts[0] == counts[1] && counts[2] == counts[3] && counts[0] + counts[2] == UInt32(load.acknowledged.count))
    }

    /// A replica that stays down is replaced: the new worker copies the shard, then serves; the
    /// old one leaves the status.
    @Test func aReplicaThatStaysDownIsReplaced() throws {
        let cluster = try LocalCluster(name: "replace", workerCount: 5, index: (16, 16, 4), codebooks: SmallData.codebooks,
                                       configuredWorkers: 4, replication: 2,
                                       topLevel: ReplicationTests.writeOnOneCopy)
        defer { cluster.stop() }
        // Worker 4 is the spare: it starts as another copy of shard 0 (4 / 2 would say shard 2).
        try cluster.start()
        let client = try cluster.client()
        _ = try SmallData.add(SmallData.base.slice(0 ..< 1500), to: client)
        cluster.kill(shard: 4)
        cluster.kill(shard: 0)
        _ = try SmallData.add(SmallData.base.slice(1500 ..< 2000), firstID: 1500, to: client)

        let spare = try cluster.launch(
            [LocalCluster.binary("sightline-worker"), "--listen", cluster.workerURLs[4], "--data", "\(cluster.folder)/spare",
             "--cluster", cluster.clusterName, "--shard", "0"], role: "spare", log: "\(cluster.folder)/spare.log")
        cluster.workers[4] = spare
        Thread.sleep(forTimeInterval: 0.5)
        let run = try cluster.sightline(["cluster", "add-worker", "--url", cluster.workerURLs[4], "--shard", "0",
                                         "--replace", cluster.workerURLs[0], "--json"])
        #expect(run.status == 0, "\(run.output)\n\(cluster.logs())")
        let status = try client.clusterStatus()
        let shard0 = status.shards.filter { $0.shard == 0 }
        #expect(Set(shard0.map(\.url)) == [cluster.workerURLs[1], cluster.workerURLs[4]])
        #expect(shard0.allSatisfy { $0.replicaState == "in-sync" }, "\(shard0)")
        let (mine, theirs) = (try ReplicationTests.digest(cluster, worker: 4), try ReplicationTests.digest(cluster, worker: 1))
        #expect(mine.listCounts == theirs.listCounts && mine.listDigests == theirs.listDigests)
        let (_, total) = try client.stats()
        #expect(total == 2000)
        // A replicated shard drains like any other: its copies' vectors move to shard 0's copies.
        let move = try cluster.sightline(["cluster", "remove-worker", "--shard", "1"])
        #expect(move.status == 0, "\(move.output)")
        #expect(try client.stats().1 == 2000)
        #expect(try client.clusterStatus().shards.allSatisfy { $0.shard == 0 && $0.replicaState == "in-sync" })
    }

    /// The same on network-namespace hosts (one worker a host, the client on the coordinator's):
    /// kill -9, a network partition (`ip link set eth0 down` on one host) and SIGSTOP, each healed
    /// before the next; every answer meanwhile is whole and equals a single index's.
    @Test(.enabled(if: TestHosts.available, "network namespaces cannot be created here (needs root and iproute2): multi-host test skipped"))
    func killPartitionAndHangOnNamespaceHosts() throws {
        let ip = TestHosts.ipCommand!
        let prefix = "sr\(getpid() % 10_000)"
        let script = LocalCluster.root.appendingPathComponent("scripts/netns-hosts").path
        #expect(TestHosts.run([script, "up", "5", "--prefix", prefix]) == 0)
        defer { TestHosts.run([script, "down", "5", "--prefix", prefix]) }
        let spec = "synthetic:n=3000,q=100,d=16,classes=100,seed=21"
        let data = try DatasetCatalog.load(spec)
        let workerURLs = (1 ... 4).map { "tcp://10.213.0.\($0 + 1):7701" }
        let cluster = try LocalCluster(name: "hostreplicas", workerCount: 4, index: (16, 16, 4), codebooks: SmallData.codebooks,
                                       urls: ("tcp://10.213.0.1:7700", workerURLs), replication: 2,
                                       topLevel: ReplicationTests.writeOnOneCopy)
        cluster.launchPrefix = TestHosts.placing(prefix: prefix)
        defer { cluster.signal(shard: 1, SIGCONT); cluster.stop() }
        try cluster.start(waitForHealth: false)
        let cli = [ip, "netns", "exec", "\(prefix)-h0", LocalCluster.binary("sightline")]
        let target = ["--coordinator", cluster.coordinatorURL, "--token", cluster.token]
        var ingested = false
        for _ in 0 ..< 150 where !ingested {
            ingested = TestHosts.run(cli + ["ingest", "--dataset", spec, "--limit", "2000"] + target) == 0
            if !ingested { Thread.sleep(forTimeInterval: 0.2) }
        }
        try #require(ingested, "ingest never succeeded:\n\(cluster.logs())")
        var single = try IndexFile.decode(SmallData.codebooks)
        try single.add(data.base.slice(0 ..< 2000), ids: (0 ..< 2000).map { VectorID(UInt64($0)) })
        var nextID = 2000, problems: [String] = []
        func status() throws -> ClusterStatusReply { try TestHosts.clusterStatus(cli, target) }
        func rounds(_ count: Int, _ phase: String) throws {
            for _ in 0 ..< count {
                // Rows 0 ..< row + 20 as ids nextID − row …: the earlier ones are repeats, the last 20 new.
                let row = (nextID - 2000) % 900
                var output = ""
                if TestHosts.run(cli + ["ingest", "--dataset", spec, "--first-id", "\(nextID - row)", "--limit", "\(row + 20)"] + target,
                                 output: &output) != 0 {
                    problems.append("\(phase): an add failed: \(output.suffix(300))")
                    continue
                }
                try single.add(data.base.slice(row ..< row + 20), ids: (nextID ..< nextID + 20).map { VectorID(UInt64($0)) })
                nextID += 20
                output = ""
                TestHosts.run(cli + ["query", "--queries", spec, "--k", "10", "--nprobe", "4", "--json"] + target, output: &output)
                let expected = try single.search(data.queries, parameters: SearchParameters(k: 10, probeCount: 4))
                let answers = output.split(separator: "\n").compactMap {
                    try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
                }
                if answers.count != 100 { problems.append("\(phase): query printed \(answers.count) rows: \(output.suffix(300))") }
                for (query, answer) in answers.enumerated() {
                    if answer["partial"] as? Bool != false { problems.append("\(phase): query \(query) partial"); break }
                    if (answer["ids"] as? [NSNumber])?.map({ $0.uint64Value }) != expected[query].map(\.id.rawValue)
                        || (answer["distances"] as? [NSNumber])?.map({ $0.floatValue }) != expected[query].map(\.distance) {
                        problems.append("\(phase): query \(query) differs from a single index")
                        break
                    }
                }
            }
        }
        func waitInSync(_ phase: String) throws {
            let deadline = Date().addingTimeInterval(60)
            while Date() < deadline {
                if try status().shards.allSatisfy({ $0.replicaState == "in-sync" }) { return }
                Thread.sleep(forTimeInterval: 0.3)
            }
            problems.append("\(phase): replicas never all in sync again")
        }
        try rounds(2, "healthy")
        cluster.kill(shard: 0)
        try rounds(4, "after kill -9 of host 1")
        try cluster.startWorker(0)
        try waitInSync("restart of host 1")
        try rounds(2, "after the restart")
        #expect(TestHosts.run([ip, "-n", "\(prefix)-h3", "link", "set", "eth0", "down"]) == 0)
        try rounds(4, "host 3 cut off")
        #expect(TestHosts.run([ip, "-n", "\(prefix)-h3", "link", "set", "eth0", "up"]) == 0)
        try waitInSync("host 3 back")
        cluster.signal(shard: 1, SIGSTOP)
        try rounds(4, "host 2 hung")
        cluster.signal(shard: 1, SIGCONT)
        try waitInSync("host 2 resumed")
        try rounds(2, "healed")
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))\n\(cluster.logs())")
        // Counts come from the health loop (once a second): wait for a round that saw every copy.
        var counts: [UInt32: [UInt64]] = [:]
        for _ in 0 ..< 20 {
            counts = Dictionary(grouping: try status().shards, by: \.shard).mapValues { $0.map(\.vectorCount) }
            if counts.values.allSatisfy({ Set($0).count == 1 }) { break }
            Thread.sleep(forTimeInterval: 0.5)
        }
        #expect(counts.values.allSatisfy { Set($0).count == 1 && $0.count == 2 }, "\(counts)")
        #expect(counts.values.map { $0[0] }.reduce(0, +) == UInt64(nextID), "\(counts), \(nextID) acknowledged")
        let logs = cluster.logs()
        #expect(logs.contains("left the in-sync set") && logs.contains("caught up from"))
    }
}

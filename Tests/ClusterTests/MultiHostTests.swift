import Datasets
import Foundation
import Testing
import VectorIndex
import VectorMath
import Wire

/// Test hosts in network namespaces (scripts/netns-hosts): a coordinator and three workers, each
/// with its own address, talking over veth pairs and a bridge that exist only for this test.
enum TestHosts {
    static let ipCommand = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Whether namespaces can be made here (root, iproute2, a kernel that allows it).
    static let available: Bool = {
        guard let ip = ipCommand, getuid() == 0 else { return false }
        let name = "slprobe\(getpid() % 100_000)"
        return run([ip, "netns", "add", name]) == 0 && run([ip, "netns", "del", name]) == 0
    }()

    @discardableResult
    static func run(_ command: [String], output: UnsafeMutablePointer<String>? = nil) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return -1 }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        output?.pointee = String(decoding: data, as: UTF8.self)
        return process.terminationStatus
    }
}

extension TestHosts {
    /// `sightline cluster status --json` through `cli` (a command that runs on a test host).
    static func clusterStatus(_ cli: [String], _ target: [String]) throws -> ClusterStatusReply {
        var output = ""
        run(cli + ["cluster", "status", "--json"] + target, output: &output)
        return try JSONDecoder().decode(ClusterStatusReply.self, from: Data((output.split(separator: "\n").last ?? "").utf8))
    }

    /// Runs the coordinator on PREFIX-h0 and worker i on PREFIX-h(i+1).
    static func placing(prefix: String) -> (String) -> [String] {
        let ip = ipCommand!
        return { role in
            let host = role == "coordinator" ? 0 : Int(role.split(separator: "-")[1])! + 1
            return [ip, "netns", "exec", "\(prefix)-h\(host)"]
        }
    }
}

@Suite(.serialized) struct MultiHostTests {
    @Test(.enabled(if: TestHosts.available, "network namespaces cannot be created here (needs root and iproute2): multi-host test skipped"))
    func exactMergeAcrossNamespaceHosts() throws {
        let ip = TestHosts.ipCommand!
        let prefix = "sl\(getpid() % 10_000)"
        let script = LocalCluster.root.appendingPathComponent("scripts/netns-hosts").path
        #expect(TestHosts.run([script, "up", "4", "--prefix", prefix]) == 0)
        defer { TestHosts.run([script, "down", "4", "--prefix", prefix]) }

        let spec = "synthetic:n=4000,q=200,d=32,classes=200,seed=9"
        let data = try DatasetCatalog.load(spec)
        var training = IVFPQTraining()
        training.iterations = 8
        let trained = try IVFPQIndex.train(
            data.train, configuration: IVFPQConfiguration(dimension: 32, listCount: 32, subquantizerCount: 8),
            training: training)
        let codebooks = IndexFile.encode(trained)
        let workerURLs = (1 ... 3).map { "tcp://10.213.0.\($0 + 1):7701" }
        let cluster = try LocalCluster(name: "hosts", workerCount: 3, index: (32, 32, 8), codebooks: codebooks,
                                       urls: ("tcp://10.213.0.1:7700", workerURLs))
        cluster.launchPrefix = TestHosts.placing(prefix: prefix)
        defer { cluster.stop() }
        try cluster.start(waitForHealth: false)

        // The client runs on the coordinator's host.
        let cli = [ip, "netns", "exec", "\(prefix)-h0", LocalCluster.binary("sightline")]
        let target = ["--coordinator", cluster.coordinatorURL, "--token", cluster.token]
        var healthy = false
        for _ in 0 ..< 150 where !healthy {
            var output = ""
            TestHosts.run(cli + ["stats", "--json"] + target, output: &output)
            let shards = output.split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
            healthy = shards.count == 3 && shards.allSatisfy { $0["ready"] as? Bool == true }
            if !healthy { Thread.sleep(forTimeInterval: 0.2) }
        }
        try #require(healthy, "cluster on namespace hosts never became healthy:\n\(cluster.logs())")
        #expect(TestHosts.run(cli + ["ingest", "--dataset", spec] + target) == 0)
        var output = ""
        #expect(TestHosts.run(cli + ["query", "--queries", spec, "--k", "10", "--nprobe", "4", "--json"] + target, output: &output) == 0)

        var single = try IndexFile.decode(codebooks)
        try single.add(data.base, ids: (0 ..< UInt64(data.base.rowCount)).map { VectorID($0) })
        let expected = try single.search(data.queries, parameters: SearchParameters(k: 10, probeCount: 4))
        let rows = output.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        try #require(rows.count == 200, "query printed \(rows.count) rows:\n\(output.prefix(500))\n\(cluster.logs())")
        for (query, row) in rows.enumerated() {
            let ids = (row["ids"] as? [NSNumber])?.map { $0.uint64Value } ?? []
            let distances = (row["distances"] as? [NSNumber])?.map { $0.floatValue } ?? []
            #expect(row["partial"] as? Bool == false)
            #expect(ids == expected[query].map(\.id.rawValue), "query \(query)")
            #expect(distances == expected[query].map(\.distance), "query \(query)")
        }
    }

    /// A fourth namespace host joins with `sightline cluster add-worker` (the commands run on the
    /// coordinator's host) while a client on that host adds vectors and searches, round after
    /// round through every step of the move: each answer equals a single index's over the
    /// vectors acknowledged so far, about a quarter of the vectors move, and nothing is lost.
    @Test(.enabled(if: TestHosts.available, "network namespaces cannot be created here (needs root and iproute2): multi-host test skipped"))
    func addWorkerOnANamespaceHostUnderLoad() throws {
        let ip = TestHosts.ipCommand!
        let prefix = "sg\(getpid() % 10_000)"
        let script = LocalCluster.root.appendingPathComponent("scripts/netns-hosts").path
        #expect(TestHosts.run([script, "up", "5", "--prefix", prefix]) == 0)
        defer { TestHosts.run([script, "down", "5", "--prefix", prefix]) }

        let spec = "synthetic:n=3000,q=100,d=16,classes=100,seed=21"
        let data = try DatasetCatalog.load(spec)
        let workerURLs = (1 ... 4).map { "tcp://10.213.0.\($0 + 1):7701" }
        let cluster = try LocalCluster(name: "hostgrow", workerCount: 4, index: (16, 16, 4), codebooks: SmallData.codebooks,
                                       urls: ("tcp://10.213.0.1:7700", workerURLs), configuredWorkers: 3)
        cluster.launchPrefix = TestHosts.placing(prefix: prefix)
        cluster.moveStepPauseMilliseconds = 1500
        defer { cluster.stop() }
        try cluster.start(waitForHealth: false)
        let cli = [ip, "netns", "exec", "\(prefix)-h0", LocalCluster.binary("sightline")]
        let target = ["--coordinator", cluster.coordinatorURL, "--token", cluster.token]
        var ingested = false
        for _ in 0 ..< 150 where !ingested {
            ingested = TestHosts.run(cli + ["ingest", "--dataset", spec] + target) == 0
            if !ingested { Thread.sleep(forTimeInterval: 0.2) }
        }
        try #require(ingested, "ingest never succeeded:\n\(cluster.logs())")

        var single = try IndexFile.decode(SmallData.codebooks)
        try single.add(data.base, ids: (0 ..< UInt64(data.base.rowCount)).map { VectorID($0) })
        func step() throws -> String { try TestHosts.clusterStatus(cli, target).move?.step ?? "none" }
        var output = ""
        #expect(TestHosts.run(cli + ["cluster", "add-worker", "--url", workerURLs[3], "--host", "\(prefix)-h4", "--no-wait"] + target,
                              output: &output) == 0, "\(output)\n\(cluster.logs())")
        // Rounds: add 20 vectors (copies of the first rows, under new ids), then search; a round
        // counts for a step when the move was in that step before and after it.
        var checkedSteps: Set<String> = [], nextID = 3000, rounds = 0
        var current = try step()
        while current != "done", rounds < 200 {
            rounds += 1
            let rows = (nextID - 3000) % 2000
            // ingest adds rows 0 ..< rows + 20 as ids nextID - rows …: the earlier rows are repeats
            // (ignored), the last 20 are new.
            output = ""
            guard TestHosts.run(cli + ["ingest", "--dataset", spec, "--first-id", "\(nextID - rows)", "--limit", "\(rows + 20)",
                                       "--batch", "1000"] + target, output: &output) == 0 else {
                Issue.record("an add failed during \(current): \(output)")
                break
            }
            try single.add(data.base.slice(rows ..< rows + 20), ids: (nextID ..< nextID + 20).map { VectorID(UInt64($0)) })
            nextID += 20
            output = ""
            #expect(TestHosts.run(cli + ["query", "--queries", spec, "--k", "10", "--nprobe", "4", "--json"] + target,
                                  output: &output) == 0)
            let expected = try single.search(data.queries, parameters: SearchParameters(k: 10, probeCount: 4))
            let answers = output.split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
            #expect(answers.count == 100, "query printed \(answers.count) rows during \(current)")
            for (query, answer) in answers.enumerated() {
                #expect(answer["partial"] as? Bool == false)
                #expect((answer["ids"] as? [NSNumber])?.map { $0.uint64Value } == expected[query].map(\.id.rawValue),
                        "query \(query) during \(current)")
                #expect((answer["distances"] as? [NSNumber])?.map { $0.floatValue } == expected[query].map(\.distance))
            }
            let after = try step()
            if after == current { checkedSteps.insert(current) }
            current = after
        }
        for name in ["copy", "verify", "flip", "delete"] {
            #expect(checkedSteps.contains(name), "no checked round during \(name) (\(checkedSteps))")
        }

        let status = try TestHosts.clusterStatus(cli, target)
        #expect(status.move?.step == "done" && status.shards.map(\.shard) == [0, 1, 2, 3])
        #expect(status.shards.last?.host == "\(prefix)-h4")
        let moved = Double(status.move?.total ?? 0) / 3000
        #expect(abs(moved - 0.25) < 0.05, "moved \(moved) of the vectors")
        #expect(rounds > 8 && nextID > 3000)
    }
}

import ClusterClient
import Datasets
import Foundation
import Testing
import VectorIndex
import VectorMath
import Wire

@Suite(.serialized) struct ClusterTests {
    /// The cluster's answer to every query equals the single-node index's answer over the same
    /// data: same ids, same distances, same order (2,000 Fashion-MNIST queries, 3 workers).
    /// Fashion-MNIST codebooks, trained once for both runs of the merge test.
    static let fashionCodebooks: Result<[UInt8], any Error> = Result {
        let data = try DatasetCatalog.load("fashion-mnist")
        var training = IVFPQTraining()
        training.iterations = 6
        training.threads = 2
        let trained = try IVFPQIndex.train(
            data.train, configuration: IVFPQConfiguration(dimension: 784, listCount: 256, subquantizerCount: 16),
            training: training)
        return IndexFile.encode(trained)
    }

    @Test(arguments: [false, true])
    func exactMergeEqualsSingleNode(tls: Bool) throws {
        let data = try DatasetCatalog.load("fashion-mnist")
        let codebooks = try Self.fashionCodebooks.get()
        let cluster = try LocalCluster(name: "merge", workerCount: 3, index: (784, 256, 16), codebooks: codebooks, tls: tls)
        defer { cluster.stop() }
        try cluster.start()
        let client = try cluster.client()
        let (added, _) = try SmallData.add(data.base, to: client, batchSize: 5000)
        #expect(added == 60_000)

        var single = try IndexFile.decode(codebooks)
        try single.add(data.base, ids: (0 ..< 60_000).map { VectorID(UInt64($0)) }, threads: 2)
        let queries = data.queries.slice(0 ..< 2000)
        for nprobe in [1, 8] {
            let expected = try single.search(queries, parameters: SearchParameters(k: 10, probeCount: nprobe, threads: 2))
            let reply = try client.search(SmallData.batch(queries), options: SearchOptions(k: 10, nprobe: nprobe),
                                          deadlineMilliseconds: 60_000)
            #expect(!reply.partial)
            #expect(reply.results.count == 2000)
            var mismatches = 0
            var first = ""
            for (query, result) in reply.results.enumerated() {
                let want = expected[query]
                if result.ids != want.map(\.id.rawValue) || result.distances != want.map(\.distance) {
                    if mismatches == 0 { first = "query \(query): cluster \(result.ids) \(result.distances), single \(want)" }
                    mismatches += 1
                }
            }
            #expect(mismatches == 0, "nprobe \(nprobe): \(mismatches) of 2000 queries differ; first: \(first)")
        }
    }

    /// kill -9 a worker after acknowledged adds, restart it: every acknowledged vector is there
    /// again, none twice.
    @Test(arguments: [false, true])
    func acknowledgedAddsSurviveKillNine(tls: Bool) throws {
        let cluster = try LocalCluster(name: "durable", workerCount: 3, index: (16, 16, 4), codebooks: SmallData.codebooks, tls: tls)
        defer { cluster.stop() }
        try cluster.start()
        let client = try cluster.client()
        let (added, _) = try SmallData.add(SmallData.base, to: client)
        #expect(added == 3000)
        for shard in 0 ..< 3 { cluster.kill(shard: shard, signal: SIGKILL) }
        for shard in 0 ..< 3 { try cluster.startWorker(shard) }
        try cluster.waitUntilHealthy()
        let stats = try client.stats()
        #expect(stats.total == 3000)
        #expect(stats.shards.allSatisfy { $0.reachable && $0.vectorCount > 0 })
        guard case .fetchVectors(let fetched) = try client.call(.fetchVectors(ids: (0 ..< 3000).map(UInt64.init))) else {
            Issue.record("no fetch reply"); return
        }
        #expect(Set(fetched.found) == Set((0 ..< 3000).map(UInt64.init)))
        #expect(fetched.found.count == 3000)
        // Retrying the whole ingest is safe: nothing is added twice.
        let (again, ignored) = try SmallData.add(SmallData.base, to: client)
        #expect(again == 0 && ignored == 3000)
        #expect(try client.stats().total == 3000)
    }

    /// A stopped worker: answers come within the deadline, partial, naming it; after a restart,
    /// full answers resume and equal the ones before the failure.
    @Test(arguments: [false, true])
    func deadWorkerGivesPartialAnswersWithinTheDeadline(tls: Bool) throws {
        let cluster = try LocalCluster(name: "failure", workerCount: 3, index: (16, 16, 4), codebooks: SmallData.codebooks, tls: tls)
        defer { cluster.stop() }
        try cluster.start()
        let client = try cluster.client()
        _ = try SmallData.add(SmallData.base, to: client)
        let options = SearchOptions(k: 10, nprobe: 16)
        let full = try client.search(SmallData.batch(SmallData.queries), options: options)
        #expect(!full.partial)

        cluster.kill(shard: 1, signal: SIGKILL)
        let started = Date()
        let partial = try client.search(SmallData.batch(SmallData.queries), options: options, deadlineMilliseconds: 500)
        let elapsed = Date().timeIntervalSince(started)
        #expect(partial.partial)
        #expect(partial.missingShards == [1])
        #expect(elapsed < 1.5, "answered after \(elapsed) s with a 0.5 s deadline")
        #expect(partial.results.allSatisfy { $0.ids.count == 10 })

        try cluster.startWorker(1)
        try cluster.waitUntilHealthy()
        let healed = try client.search(SmallData.batch(SmallData.queries), options: options)
        #expect(!healed.partial)
        #expect(healed == full)
    }

    /// Wrong tokens, bad values and garbage frames get typed error replies, do no work, and the
    /// coordinator and workers keep serving.
    @Test func badInputGetsTypedErrorsAndServiceContinues() throws {
        let cluster = try LocalCluster(name: "bad", workerCount: 2, index: (16, 16, 4), codebooks: SmallData.codebooks,
                                       maxFrameBytes: 200_000)
        defer { cluster.stop() }
        try cluster.start()
        let client = try cluster.client()
        _ = try SmallData.add(SmallData.base.slice(0 ..< 1000), to: client)
        let query = SmallData.batch(SmallData.queries.slice(0 ..< 1))

        func expectError(_ code: ErrorCode, _ mention: String, sourceLocation: SourceLocation = #_sourceLocation,
                         _ body: () throws -> Void) {
            do {
                try body()
                Issue.record("expected \(code)", sourceLocation: sourceLocation)
            } catch ClientError.server(let reply) {
                #expect(reply.code == code, "\(reply)", sourceLocation: sourceLocation)
                #expect(reply.message.contains(mention), "\(reply.message)", sourceLocation: sourceLocation)
            } catch {
                Issue.record("unexpected \(error)", sourceLocation: sourceLocation)
            }
        }

        // Security: no work is done for a wrong or missing token.
        let intruder = try cluster.client(token: "wrong")
        expectError(.unauthorized, "wrong token") {
            _ = try intruder.add(AddBatch(ids: [90_000], vectors: SmallData.batch(SmallData.base.slice(0 ..< 1))))
        }
        expectError(.unauthorized, "missing token") {
            _ = try cluster.client(token: "").search(query, options: SearchOptions(k: 1, nprobe: 1))
        }
        #expect(try client.stats().total == 1000)

        expectError(.badRequest, "wrong dimension") {
            _ = try client.search(VectorBatch(dimension: 8, values: [Float](repeating: 0, count: 8)),
                                  options: SearchOptions(k: 1, nprobe: 1))
        }
        expectError(.badRequest, "wrong dimension") {
            _ = try client.add(AddBatch(ids: [1], vectors: VectorBatch(dimension: 8, values: [Float](repeating: 0, count: 8))))
        }
        var nan = query
        nan.values[3] = .nan
        expectError(.badRequest, "NaN") { _ = try client.search(nan, options: SearchOptions(k: 1, nprobe: 1)) }
        expectError(.badRequest, "NaN") { _ = try client.add(AddBatch(ids: [5000], vectors: nan)) }
        expectError(.badRequest, "k = 0") { _ = try client.search(query, options: SearchOptions(k: 0, nprobe: 1)) }
        expectError(.badRequest, "k = 100000") { _ = try client.search(query, options: SearchOptions(k: 100_000, nprobe: 1)) }
        expectError(.badRequest, "nprobe = 17") { _ = try client.search(query, options: SearchOptions(k: 1, nprobe: 17)) }
        expectError(.notFound, "unknown collection") {
            _ = try cluster.client(collection: "faces").search(query, options: SearchOptions(k: 1, nprobe: 1))
        }

        // Frames that are not protobuf, cut off, or too large.
        let raw = try cluster.client()
        var generator = SystemRandomNumberGenerator()
        let garbage = (0 ..< 512).map { _ in UInt8.random(in: 0 ... 255, using: &generator) }
        let good = WireCodec.encode(Request(envelope: Envelope(requestID: 7, token: cluster.token),
                                            body: .search(vector: query.values, options: SearchOptions(k: 1, nprobe: 1))))
        let oversized = WireCodec.encode(Request(envelope: Envelope(requestID: 8, token: cluster.token),
                                                 body: .search(vector: [Float](repeating: 0.1, count: 60_000),
                                                               options: SearchOptions(k: 1, nprobe: 1))))
        // Garbage fails at the envelope (not the first field, or not an Envelope) or as a whole.
        for (frame, mentions) in [(garbage, ["malformed", "envelope"]), (Array(good.prefix(good.count - 5)), []),
                                  (oversized, ["exceeds"])] {
            let response = try raw.callRaw(frame)
            guard case .error(let reply) = response.body else { Issue.record("no error for a bad frame"); continue }
            #expect(reply.code == .badRequest || reply.code == .unsupportedVersion, "\(reply)")
            #expect(mentions.isEmpty || mentions.contains { reply.message.contains($0) }, "\(reply.message)")
        }
        // A worker spoken to directly rejects garbage the same way.
        let worker = try ServiceClient(url: cluster.workerURLs[0], token: cluster.token)
        guard case .error(let workerReply) = try worker.callRaw(garbage).body else { Issue.record("worker accepted garbage"); return }
        #expect(workerReply.code == .badRequest)

        // Still serving.
        let after = try client.search(query, options: SearchOptions(k: 3, nprobe: 4))
        #expect(after.results.first?.ids.count == 3)
        #expect(cluster.coordinator?.isRunning == true)
        #expect(cluster.workers.values.allSatisfy { $0.isRunning })
    }

    /// verify and identify answer through the coordinator.
    @Test func verifyAndIdentify() throws {
        let cluster = try LocalCluster(name: "verify", workerCount: 2, index: (16, 16, 4), codebooks: SmallData.codebooks)
        defer { cluster.stop() }
        try cluster.start()
        let client = try cluster.client()
        let labels = SmallData.generator.generate(.index, range: 0 ..< 500).labels
        let slice = SmallData.base.slice(0 ..< 500)
        _ = try client.add(AddBatch(ids: (0 ..< 500).map(UInt64.init), vectors: SmallData.batch(slice), labels: labels))
        let a = Array(slice.row(0)), b = Array(slice.row(1))
        guard case .verify(let distance, let same, _) = try client.call(.verify(.vectors(a: a, b: a, threshold: 0.01))) else {
            Issue.record("no reply"); return
        }
        #expect(distance == 0 && same)
        let exact = zip(a, b).reduce(Float(0)) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
        guard case .verify(let apart, let sameAgain, _) = try client.call(.verify(.vectors(a: a, b: b, threshold: exact / 2))) else {
            Issue.record("no reply"); return
        }
        #expect(abs(apart - exact) < 1e-5 && !sameAgain)
        guard case .verify(_, _, let approximate) = try client.call(.verify(.ids(a: 0, b: 1, threshold: 1))) else {
            Issue.record("no reply"); return
        }
        #expect(approximate)  // no stored vectors: reconstructed from PQ codes
        guard case .identify(let hit) = try client.call(.identify(vector: a, threshold: 0.5, nprobe: 16)) else {
            Issue.record("no reply"); return
        }
        #expect(hit.found && hit.label == labels[Int(hit.id)])
        guard case .identify(let miss) = try client.call(.identify(vector: a, threshold: -1, nprobe: 16)) else {
            Issue.record("no reply"); return
        }
        #expect(!miss.found)
    }
}

@Suite(.serialized) struct WorkerStartupTests {
    /// Starts a one-worker cluster, stops it, then starts a worker on shard 0's data directory as
    /// `cluster`/`shard`; returns its exit status and log. The directory is left as it was.
    static func restartShardZero(as cluster: String?, shard: Int, name: String) throws -> (status: Int32, log: String, owner: String) {
        let owner = try LocalCluster(name: name, workerCount: 1, index: (16, 16, 4), codebooks: SmallData.codebooks)
        defer { owner.stop() }
        try owner.start()
        owner.stop()
        let process = try owner.launch(
            [LocalCluster.binary("sightline-worker"), "--listen", "tcp://127.0.0.1:\(LocalCluster.freePort())",
             "--data", "\(owner.folder)/worker-0", "--cluster", cluster ?? owner.clusterName, "--shard", "\(shard)"],
            role: "intruder", log: "\(owner.folder)/intruder.log")
        process.waitUntilExit()
        return (process.terminationStatus, try String(contentsOfFile: "\(owner.folder)/intruder.log", encoding: .utf8), owner.clusterName)
    }

    /// A worker refuses a data directory that belongs to another cluster: exit status 2 and a log
    /// line that says so.
    @Test func refusesADataDirectoryOfAnotherCluster() throws {
        let (status, log, owner) = try Self.restartShardZero(as: "intruder", shard: 0, name: "owner")
        #expect(status == 2)
        #expect(log.contains("belongs to cluster \"\(owner)\""), "\(log)")
    }

    /// A frame limit outside 1 KiB…128 MiB is refused at start (exit 2), not discovered later.
    @Test func anImplausibleFrameLimitIsRefusedAtStart() {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sightline-limit-\(getpid())").path
        let status = TestHosts.run([LocalCluster.binary("sightline-worker"), "--listen", "tcp://127.0.0.1:\(LocalCluster.freePort())",
                                    "--data", folder, "--cluster", "c", "--shard", "0", "--max-frame-bytes", "9223372036854775807"])
        #expect(status == 2)
    }

    /// A replica log window of 0 ids would trim every write as it is logged: refused at start (exit 2).
    @Test func anEmptyReplicaLogWindowIsRefusedAtStart() {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sightline-window-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let status = TestHosts.run([LocalCluster.binary("sightline-worker"), "--listen", "tcp://127.0.0.1:\(LocalCluster.freePort())",
                                    "--data", folder, "--cluster", "c", "--shard", "0", "--replica-log-window", "0"])
        #expect(status == 2)
    }

    /// A SIGTERM that arrives while a worker starts (here: as soon as it has opened its store,
    /// before it listens) is kept: the worker finishes starting, then stops cleanly (status 0,
    /// "stopping"), instead of dying of the signal or, worse, ignoring it and running on.
    @Test func aStopAskedForWhileStartingIsHonouredOnceServing() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sightline-early-stop-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let log = "\(folder)/worker.log"
        let process = try UnitFiles.launch([LocalCluster.binary("sightline-worker"),
                                            "--listen", "tcp://127.0.0.1:\(LocalCluster.freePort())",
                                            "--data", "\(folder)/data", "--cluster", "c", "--shard", "0", "--token", "t"], log: log)
        let limit = Date().addingTimeInterval(20)
        while !UnitFiles.read(log).contains("no codebook yet"), process.isRunning, Date() < limit { usleep(200) }
        kill(process.processIdentifier, SIGTERM)
        let status = UnitFiles.wait(process, seconds: 10)
        #expect(process.terminationReason == .exit && status == 0, "\(process.terminationReason.rawValue) \(String(describing: status))")
        #expect(UnitFiles.read(log).contains("stopping"), "\(UnitFiles.read(log))")
    }

    /// Shard 0's directory started as shard 1 is refused: it would serve the wrong vectors.
    @Test func refusesADataDirectoryOfAnotherShard() throws {
        let (status, log, _) = try Self.restartShardZero(as: nil, shard: 1, name: "shard-owner")
        #expect(status == 2)
        #expect(log.contains("holds shard 0, not shard 1"), "\(log)")
    }
}

@Suite(.serialized) struct ClusterCLITests {
    /// ingest, stats and bench-cluster from the `sightline` binary against real processes.
    @Test func ingestStatsAndBenchClusterPrintTheDocumentedKeys() throws {
        let cluster = try LocalCluster(name: "cli", workerCount: 2, index: (16, 16, 4), codebooks: SmallData.codebooks)
        defer { cluster.stop() }
        try cluster.start()
        let spec = "synthetic:n=3000,q=50,d=16,classes=100,seed=21"
        let target = ["--coordinator", cluster.coordinatorURL, "--token", cluster.token]
        var output = ""
        #expect(TestHosts.run([LocalCluster.binary("sightline"), "ingest", "--dataset", spec, "--batch", "700"] + target,
                              output: &output) == 0)
        #expect(output.contains("ingested 3000 vectors: 3000 added"))
        // Five batches, four in flight by default; again one at a time: every id already there.
        #expect(TestHosts.run([LocalCluster.binary("sightline"), "ingest", "--dataset", spec, "--batch", "700",
                               "--in-flight", "1"] + target,
                              output: &output) == 0)
        #expect(output.contains("ingested 3000 vectors: 0 added, 3000 already present"), "\(output)")
        #expect(TestHosts.run([LocalCluster.binary("sightline"), "ingest", "--dataset", spec, "--in-flight", "0"] + target,
                              output: &output) == 2)
        #expect(TestHosts.run([LocalCluster.binary("sightline"), "stats", "--json"] + target, output: &output) == 0)
        let shards = output.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(shards.count == 2 && shards.reduce(0) { $0 + (($1["vectors"] as? Int) ?? 0) } == 3000)
        #expect(TestHosts.run([LocalCluster.binary("sightline"), "bench-cluster", "--dataset", spec, "--nprobe", "1,16",
                               "--limit", "50", "--clients", "2", "--json"] + target, output: &output) == 0)
        let rows = output.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        try #require(rows.count == 2, "\(output)")
        // The synthetic set carries labels on both sides, so the label column comes too.
        let keys: Set = ["nprobe", "refine", "probe_ratio", "r_at_1", "recall_at_10", "qps", "p50_ms", "p95_ms", "p99_ms", "partial_rate",
                         "label_r_at_1"]
        #expect(rows.allSatisfy { Set($0.keys) == keys })
        #expect(rows.allSatisfy { ($0["label_r_at_1"] as! Double) > 0.5 && ($0["label_r_at_1"] as! Double) <= 1 })
        #expect((rows[1]["recall_at_10"] as! Double) >= (rows[0]["recall_at_10"] as! Double))
        #expect(rows.allSatisfy { ($0["partial_rate"] as! Double) == 0 })
        // A wrong token is a usage error of the CLI: exit status 2.
        #expect(TestHosts.run([LocalCluster.binary("sightline"), "stats", "--coordinator", cluster.coordinatorURL, "--token", "nope"]) == 2)
    }
}

import Foundation
import Testing

/// A small trained and built index shared by the CLI tests (synthetic, 16-d).
enum Prepared {
    static let folder = CLI.folder()
    static let data = "\(folder)/data"
    static let index: String = {
        let trained = "\(folder)/trained.slix", built = "\(folder)/built.slix"
        _ = try? CLI.run(["export", "--dataset", "synthetic:n=3000,q=50,d=16,classes=100,seed=3", "--out-dir", data])
        _ = try? CLI.run(["train", "--dataset", "\(data)/base.fvecs", "--nlist", "16", "--m", "4", "--iterations", "5", "--out", trained])
        _ = try? CLI.run(["build", "--index", trained, "--dataset", "\(data)/base.fvecs", "--out", built])
        return built
    }()
}

@Suite(.serialized) struct CLITests {
    @Test(arguments: ["train", "build", "search", "groundtruth", "bench", "export"])
    func everyCommandExplainsItself(command: String) throws {
        let result = try CLI.run([command, "--help"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("USAGE"))
        #expect(result.stdout.contains("Example"))
    }

    @Test(arguments: ["status", "add-worker", "remove-worker", "rebalance", "backup", "restore"])
    func everyClusterCommandExplainsItself(command: String) throws {
        let result = try CLI.run(["cluster", command, "--help"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("USAGE: sightline cluster \(command)"))
        #expect(result.stdout.contains("Example"))
        #expect(command == "restore" || result.stdout.contains("--json"))    // restore prints one line, offline
    }

    @Test func endToEndSearchPrintsJSON() throws {
        let result = try CLI.run(["search", "--index", Prepared.index, "--queries", "\(Prepared.data)/query.fvecs",
                                  "--k", "5", "--nprobe", "4", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count == 50)
        let first = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any]
        #expect((first?["ids"] as? [Int])?.count == 5)
    }

    @Test func benchPrintsTheDocumentedJSONKeys() throws {
        _ = Prepared.index
        let result = try CLI.run(["bench", "--dataset", "\(Prepared.data)/base.fvecs", "--queries", "\(Prepared.data)/query.fvecs",
                                  "--nlist", "16", "--m", "4", "--iterations", "3", "--nprobe", "1,16",
                                  "--latency-queries", "10", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let rows = jsonRows(result.stdout)
        // The defaults keep 8-bit refine codes and sweep refine 8 and 16 (refine outer, nprobe inner).
        #expect(rows.count == 4)
        #expect(rows.map { $0["refine"] as? Int } == [8, 8, 16, 16])
        let keys: Set = ["nprobe", "refine", "probe_ratio", "r_at_1", "recall_at_10", "qps_1t", "qps_mt", "p50_ms", "p99_ms", "index_bytes",
                         "train_s", "build_s"]
        #expect(rows.allSatisfy { Set($0.keys) == keys })
        // Probing every list can only find more true neighbours.
        #expect((rows[1]["recall_at_10"] as! Double) >= (rows[0]["recall_at_10"] as! Double))
        #expect(result.stderr.contains("ground truth"))
        // Without refine codes there is nothing to re-rank: refine 0, one row per nprobe.
        let plain = try CLI.run(["bench", "--dataset", "\(Prepared.data)/base.fvecs", "--queries", "\(Prepared.data)/query.fvecs",
                                 "--nlist", "16", "--m", "4", "--pq-bits", "8", "--refine-codes", "none", "--iterations", "3",
                                 "--nprobe", "1,16", "--probe-ratio", "0,1.5", "--latency-queries", "10", "--json"])
        #expect(plain.status == 0, "\(plain.stderr)")
        // Each probe ratio is a row under each nprobe.
        let plainRows = jsonRows(plain.stdout)
        #expect(plainRows.map { $0["probe_ratio"] as? Double } == [0, 1.5, 0, 1.5])
        #expect(plainRows.allSatisfy { $0["refine"] as? Int == 0 })
        // --points measures exactly the settings named, in order.
        let pointed = try CLI.run(["bench", "--dataset", "\(Prepared.data)/base.fvecs", "--queries", "\(Prepared.data)/query.fvecs",
                                   "--nlist", "16", "--m", "4", "--iterations", "3", "--points", "16:8:1.5,2:16",
                                   "--latency-queries", "10", "--json"])
        #expect(pointed.status == 0, "\(pointed.stderr)")
        let pointedRows = jsonRows(pointed.stdout)
        #expect(pointedRows.map { "\($0["nprobe"]!):\($0["refine"]!):\($0["probe_ratio"]!)" } == ["16:8:1.5", "2:16:0"])
        for points in ["16", "16:8:0.5", "a:b", "16:-1"] {
            let refused = try CLI.run(["bench", "--dataset", "\(Prepared.data)/base.fvecs", "--points", points])
            #expect(refused.status == 2 && refused.stderr.contains("--points"), "\(points): \(refused.stderr)")
        }
        // Inner product has no common scale for the ratio: refused before training.
        let innerProduct = try CLI.run(["bench", "--dataset", "\(Prepared.data)/base.fvecs", "--metric", "ip", "--nlist", "16", "--m", "4",
                                        "--points", "16:8:1.5"])
        #expect(innerProduct.status == 2 && innerProduct.stderr.contains("L2") && !innerProduct.stderr.contains("ground truth"),
                "\(innerProduct.stderr)")
        for ratio in ["0.5", "1,x", "nan"] {
            let refused = try CLI.run(["bench", "--dataset", "\(Prepared.data)/base.fvecs", "--probe-ratio", ratio])
            #expect(refused.status == 2 && refused.stderr.contains("--probe-ratio"), "\(ratio): \(refused.stderr)")
        }
        let conflicting = try CLI.run(["bench", "--dataset", "\(Prepared.data)/base.fvecs", "--store-vectors", "--refine-codes", "sq8"])
        #expect(conflicting.status == 2 && conflicting.stderr.hasPrefix("error: "), "\(conflicting.stderr)")
    }

    @Test func benchOfAnHNSWGraphPrintsItsKeys() throws {
        let spec = "synthetic:n=3000,q=50,d=16,classes=100,seed=21"
        let result = try CLI.run(["bench", "--dataset", spec, "--index-type", "hnsw", "--hnsw-m", "8", "--ef-search", "10,200",
                                  "--latency-queries", "10", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let rows = jsonRows(result.stdout)
        let keys: Set = ["ef_search", "r_at_1", "recall_at_10", "qps_1t", "qps_mt", "p50_ms", "p99_ms", "index_bytes", "build_s"]
        try #require(rows.count == 2, "\(result.stdout)")
        #expect(rows.allSatisfy { Set($0.keys) == keys })
        #expect((rows[1]["recall_at_10"] as? Double ?? 0) >= 0.95, "\(rows)")
        try expectBadInput(["bench", "--dataset", spec, "--index-type", "lsh"], mentions: "use ivfpq or hnsw")
        try expectBadInput(["bench", "--dataset", spec, "--index-type", "hnsw", "--hnsw-m", "1"], mentions: "HNSW M = 1")
    }

    /// Each bad input: exit status 2 and one line on standard error that says what is wrong.
    func expectBadInput(_ arguments: [String], mentions: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let result = try CLI.run(arguments)
        #expect(result.status == 2, "status \(result.status): \(result.stderr)", sourceLocation: sourceLocation)
        let lines = result.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
        #expect(lines.count == 1, "\(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.stderr.contains(mentions), "\(result.stderr)", sourceLocation: sourceLocation)
    }

    @Test func wrongDimension() throws {
        let path = "\(Prepared.folder)/eight.fvecs"
        try CLI.writeFvecs([[Float](repeating: 0.1, count: 8)], to: path)
        try expectBadInput(["search", "--index", Prepared.index, "--queries", path], mentions: "holds 16-d vectors, got 8-d")
    }

    @Test func nanAndInfinity() throws {
        let path = "\(Prepared.folder)/nan.fvecs"
        try CLI.writeFvecs([[Float](repeating: 0.1, count: 16), [Float](repeating: .nan, count: 16)], to: path)
        try expectBadInput(["search", "--index", Prepared.index, "--queries", path], mentions: "row 1 holds NaN")
        let inf = "\(Prepared.folder)/inf.fvecs"
        try CLI.writeFvecs([[Float](repeating: .infinity, count: 16)], to: inf)
        try expectBadInput(["search", "--index", Prepared.index, "--queries", inf], mentions: "row 0 holds NaN or infinity")
    }

    @Test func emptyTruncatedAndUnknownFiles() throws {
        let empty = "\(Prepared.folder)/empty.fvecs"
        #expect(FileManager.default.createFile(atPath: empty, contents: Data()))
        try expectBadInput(["search", "--index", Prepared.index, "--queries", empty], mentions: "is empty")
        let cut = "\(Prepared.folder)/cut.fvecs"
        let whole = try Data(contentsOf: URL(fileURLWithPath: "\(Prepared.data)/query.fvecs"))
        try whole.prefix(whole.count - 10).write(to: URL(fileURLWithPath: cut))
        try expectBadInput(["search", "--index", Prepared.index, "--queries", cut], mentions: "truncated")
        let unknown = "\(Prepared.folder)/vectors.csv"
        #expect(FileManager.default.createFile(atPath: unknown, contents: Data("1,2".utf8)))
        try expectBadInput(["search", "--index", Prepared.index, "--queries", unknown], mentions: "unknown format")
        let index = try Data(contentsOf: URL(fileURLWithPath: Prepared.index))
        let cutIndex = "\(Prepared.folder)/cut.slix"
        try index.prefix(index.count / 2).write(to: URL(fileURLWithPath: cutIndex))
        try expectBadInput(["search", "--index", cutIndex, "--queries", "\(Prepared.data)/query.fvecs"], mentions: "truncated")
    }

    @Test func kAndNprobeOutOfRange() throws {
        let queries = "\(Prepared.data)/query.fvecs"
        try expectBadInput(["search", "--index", Prepared.index, "--queries", queries, "--k", "0"], mentions: "k = 0 is out of range")
        try expectBadInput(["search", "--index", Prepared.index, "--queries", queries, "--k", "3001"], mentions: "k = 3001 is out of range")
        try expectBadInput(["search", "--index", Prepared.index, "--queries", queries, "--nprobe", "17"],
                           mentions: "nprobe = 17 is out of range")
    }

    @Test func mNotDividingDAndTooFewTrainingVectors() throws {
        let out = "\(Prepared.folder)/never.slix"
        try expectBadInput(["train", "--dataset", "\(Prepared.data)/base.fvecs", "--nlist", "16", "--m", "5", "--out", out],
                           mentions: "m = 5 does not divide the dimension 16")
        try expectBadInput(["train", "--dataset", "\(Prepared.data)/query.fvecs", "--nlist", "64", "--m", "4", "--out", out],
                           mentions: "needs at least 64 training vectors, got 50")
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test func unknownDatasetAndMetric() throws {
        try expectBadInput(["bench", "--dataset", "synthetic:n=-1"], mentions: "invalid synthetic spec")
        try expectBadInput(["train", "--dataset", "\(Prepared.data)/base.fvecs", "--metric", "cosine", "--out", "/tmp/x.slix"],
                           mentions: "unknown metric")
    }
}

/// The JSON objects of a command's one-object-a-line output.
func jsonRows(_ stdout: String) -> [[String: Any]] {
    stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
}

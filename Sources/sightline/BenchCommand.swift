import ArgumentParser
import Datasets
import ErrorKinds
import Foundation
import ProcessRuntime
import VectorIndex
import Workflows

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Build (or load) an index and sweep nprobe and refine: recall, QPS, latency, memory.",
        discussion: """
        Defaults: 4-bit fast-scan codes (m: the divisor of d nearest d/14), re-ranked from 8-bit scalar \
        codes with refine 8 and 16; on Fashion-MNIST, nprobe 8 reaches 10-recall@10 0.98 at refine 16. \
        The compact end: --pq-bits 8 --m 16 --refine-codes none (16 bytes a vector, no refine).
        Example: sightline bench --dataset fashion-mnist --nprobe 4,8,16 --threads 1 --json
        QPS(1t) searches the whole query set as one batch on one thread; QPS(mt) on --threads \
        threads; p50/p99 time queries one at a time on one thread.
        --index-type hnsw builds an HNSW graph over the full vectors instead and sweeps --ef-search \
        (example: sightline bench --dataset fashion-mnist --index-type hnsw --hnsw-m 32 --ef-search 16,32,64,128).
        """)

    @OptionGroup var data: DatasetOptions
    @OptionGroup var shape: IndexShapeOptions

    @Option(help: "Comma-separated nprobe values to sweep.")
    var nprobe: String = "1,2,4,8,16"

    @Option(help: "Comma-separated refine factors to sweep (0 = off; >1 needs refine codes). Default: 8,16, or 0 without refine codes.")
    var refine: String?

    @Option(help: """
        Comma-separated probe ratios to sweep under each nprobe: visit a list only when its centroid is at most this \
        many times as far (squared) as the query's 4th-nearest (0 = every one of the nprobe lists; else ≥ 1, e.g. 1.6; L2 only).
        """)
    var probeRatio: String = "0"

    @Option(help: """
        Measure exactly these NPROBE:REFINE[:RATIO] settings, comma-separated (e.g. 64:8,128:16:1.45), \
        instead of every combination of --nprobe, --refine and --probe-ratio.
        """)
    var points: String?

    @Option(help: "Threads for training, building and the multi-thread QPS column (0 = all cores).")
    var threads: Int = 0

    @Option(help: "Reuse this index file if it exists (same parameters and data), write it otherwise.")
    var index: String?

    @Option(help: "Queries timed one at a time for p50/p99.")
    var latencyQueries: Int = 1000

    @Option(help: "Timed passes over the query set per row; QPS keeps the fastest (steadier on a shared machine).")
    var repeats: Int = 1

    @Option(help: "ivfpq (inverted lists + product quantization) or hnsw (a graph over the full vectors).")
    var indexType: String = "ivfpq"

    @Option(help: "HNSW: links per node (M; layer 0 keeps 2M).")
    var hnswM: Int = 32

    @Option(help: "HNSW: candidate list while building.")
    var efConstruction: Int = 40

    @Option(help: "HNSW: comma-separated efSearch values to sweep.")
    var efSearch: String = "16,32,64,128"

    @Flag(help: """
        One JSON object per row (keys: nprobe, refine, probe_ratio, r_at_1, recall_at_10, qps_1t, qps_mt, p50_ms, p99_ms, \
        index_bytes, train_s, build_s).
        """)
    var json = false

    func run() throws {
        try reportingErrors {
            guard ["ivfpq", "hnsw"].contains(indexType) else {
                throw SightlineError.badInput("--index-type \(indexType): use ivfpq or hnsw")
            }
            let probeRatios = try parseProbeRatios(probeRatio)
            let settings = try points.map(parseBenchPoints)
            let dataset = try data.load()
            if indexType == "hnsw" { return try runHNSW(dataset) }
            let configuration = try shape.benchConfiguration(dimension: dataset.base.dimension)
            var benchmark = Benchmark(dataset: dataset, configuration: configuration,
                                      probeCounts: try parseIntegerList(nprobe, name: "nprobe"))
            benchmark.refineFactors = try parseIntegerList(refine ?? (configuration.canRefine ? "8,16" : "0"), name: "refine")
            benchmark.probeRatios = probeRatios
            benchmark.settings = settings
            benchmark.training = shape.training(threads: threads)
            benchmark.threads = threads
            benchmark.indexPath = index
            benchmark.latencySampleCount = latencyQueries
            guard (1 ... 100).contains(repeats) else { throw SightlineError.badInput("--repeats \(repeats): use 1 … 100") }
            benchmark.repeats = repeats
            let rows = try benchmark.run()
            if json {
                try rows.forEach(printJSON)
            } else {
                printLine("\(dataset.name): \(dataset.base.rowCount) base, \(dataset.queries.rowCount) queries, "
                          + "d=\(dataset.base.dimension), nlist=\(shape.nlist), m=\(configuration.subquantizerCount) "
                          + "\(configuration.bitsPerCode)-bit, refine codes: "
                          + (configuration.storesScalarCodes ? "sq8" : configuration.storesVectors ? "float" : "none")
                          + (configuration.usesFastScan ? ", fast-scan kernel: \(FastScan.Kernel.selected)" : "")
                          + (configuration.coarseGraph ? ", lists ranked through an HNSW graph" : ""))
                printLine(formatBenchTable(rows))
            }
        }
    }
}

extension BenchCommand {
    func runHNSW(_ dataset: Dataset) throws {
        var benchmark = HNSWBenchmark(dataset: dataset)
        benchmark.metric = shape.metric == "ip" ? .innerProduct : .l2
        benchmark.neighborsPerNode = hnswM
        benchmark.efConstruction = efConstruction
        benchmark.efSearches = try parseIntegerList(efSearch, name: "ef-search")
        benchmark.threads = threads
        benchmark.latencySampleCount = latencyQueries
        guard (1 ... 100).contains(repeats) else { throw SightlineError.badInput("--repeats \(repeats): use 1 … 100") }
        benchmark.repeats = repeats
        let rows = try benchmark.run()
        if json { return try rows.forEach(printJSON) }
        printLine("\(dataset.name): \(dataset.base.rowCount) base, \(dataset.queries.rowCount) queries, d=\(dataset.base.dimension), "
                  + "HNSW M=\(hnswM) efConstruction=\(efConstruction)")
        var lines = ["efSearch    R@1  10-R@10   QPS(1t)   QPS(mt)  p50 ms  p99 ms  index MB  build s"]
        for row in rows {
            lines.append(String(format: "%8d %6.4f   %6.4f %9.0f %9.0f %7.3f %7.3f %9.1f %8.2f", row.efSearch, row.rAt1, row.recallAt10,
                                row.queriesPerSecondOneThread, row.queriesPerSecondAllThreads, row.p50Milliseconds,
                                row.p99Milliseconds, Double(row.indexBytes) / 1e6, row.buildSeconds))
        }
        printLine(lines.joined(separator: "\n"))
    }
}

/// `--probe-ratio`: comma-separated values, each 0 (off) or a finite number at least 1.
func parseProbeRatios(_ text: String) throws -> [Float] {
    let values = text.split(separator: ",").map { Float($0.trimmingCharacters(in: .whitespaces)) }
    guard !values.isEmpty, values.allSatisfy({ $0.map(SearchParameters.isValidProbeRatio) ?? false }) else {
        throw SightlineError.badInput("--probe-ratio \"\(text)\": use comma-separated numbers, each 0 (off) or at least 1")
    }
    return values.map { $0! }
}

/// `--points`: NPROBE:REFINE[:RATIO] settings, comma-separated.
func parseBenchPoints(_ text: String) throws -> [BenchSetting] {
    let settings = text.split(separator: ",").map { item -> BenchSetting? in
        let fields = item.split(separator: ":", omittingEmptySubsequences: false).map { String($0).trimmingCharacters(in: .whitespaces) }
        guard (2 ... 3).contains(fields.count), let nprobe = Int(fields[0]), let refine = Int(fields[1]), refine >= 0 else { return nil }
        let ratio = fields.count == 3 ? (try? parseProbeRatios(fields[2]))?.first : 0
        return ratio.map { BenchSetting(probeCount: nprobe, refineFactor: refine, probeRatio: $0) }
    }
    guard !settings.isEmpty, settings.allSatisfy({ $0 != nil }) else {
        throw SightlineError.badInput("--points \"\(text)\": use NPROBE:REFINE[:RATIO] items, comma-separated (a ratio 0 or at least 1)")
    }
    return settings.map { $0! }
}

/// A fixed-width table of bench rows for the terminal.
func formatBenchTable(_ rows: [BenchRow]) -> String {
    var lines = ["nprobe refine  ratio    R@1  10-R@10   QPS(1t)   QPS(mt)  p50 ms  p99 ms  index MB  train s  build s"]
    for row in rows {
        lines.append(String(format: "%6d %6d %6.2f %6.4f   %6.4f %9.0f %9.0f %7.3f %7.3f %9.1f %8.2f %8.2f",
                            row.probeCount, row.refineFactor, row.probeRatio, row.rAt1, row.recallAt10,
                            row.queriesPerSecondOneThread, row.queriesPerSecondAllThreads,
                            row.p50Milliseconds, row.p99Milliseconds, Double(row.indexBytes) / 1e6,
                            row.trainSeconds, row.buildSeconds))
    }
    return lines.joined(separator: "\n")
}

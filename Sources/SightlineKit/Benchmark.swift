import Datasets
import Foundation
import RetrievalEval
import VectorIndex
import VectorMath

/// One row of `sightline bench`.
public struct BenchRow: Sendable {
    public var probeCount: Int
    public var refineFactor: Int
    public var rAt1: Double
    public var recallAt10: Double
    public var queriesPerSecondOneThread: Double
    public var queriesPerSecondAllThreads: Double
    public var p50Milliseconds: Double
    public var p99Milliseconds: Double
    public var indexBytes: Int
    public var trainSeconds: Double
    public var buildSeconds: Double

    /// One JSON object with the documented keys, in a stable order.
    public var json: String {
        func number(_ value: Double) -> String { String(format: "%.6g", value) }
        return "{\"nprobe\": \(probeCount), \"refine\": \(refineFactor), \"r_at_1\": \(number(rAt1)), "
            + "\"recall_at_10\": \(number(recallAt10)), \"qps_1t\": \(number(queriesPerSecondOneThread)), "
            + "\"qps_mt\": \(number(queriesPerSecondAllThreads)), \"p50_ms\": \(number(p50Milliseconds)), "
            + "\"p99_ms\": \(number(p99Milliseconds)), \"index_bytes\": \(indexBytes), "
            + "\"train_s\": \(number(trainSeconds)), \"build_s\": \(number(buildSeconds))}"
    }
}

/// The `sightline bench` sweep: trains (or loads) and builds an index, computes exact ground
/// truth, then for each (nprobe, refine) measures recall, single- and multi-thread throughput and
/// per-query latency.
public struct Benchmark {
    public var dataset: Dataset
    public var configuration: IVFPQConfiguration
    public var training = IVFPQTraining()
    public var probeCounts: [Int]
    public var refineFactors: [Int] = [0]
    public var threads: Int = 0
    /// Queries timed one by one for the latency percentiles.
    public var latencySampleCount = 1000
    public var progress = ProgressReporter()
    /// Reuse this trained and built index file when it exists; write it otherwise.
    public var indexPath: String?

    public init(dataset: Dataset, configuration: IVFPQConfiguration, probeCounts: [Int]) {
        self.dataset = dataset
        self.configuration = configuration
        self.probeCounts = probeCounts
    }

    public func run() throws -> [BenchRow] {
        for probeCount in probeCounts where probeCount < 1 || probeCount > configuration.listCount {
            throw VectorIndexError.invalidProbeCount(nprobe: probeCount, nlist: configuration.listCount)
        }
        guard dataset.queries.dimension == dataset.base.dimension else {
            throw VectorIndexError.dimensionMismatch(expected: dataset.base.dimension, got: dataset.queries.dimension)
        }
        guard dataset.base.rowCount >= 10 else { throw VectorIndexError.invalidK(k: 10, available: dataset.base.rowCount) }
        let (index, trainSeconds, buildSeconds) = try prepareIndex()
        let groundTruth = try Workflows.groundTruth(
            queries: dataset.queries, base: dataset.base, k: 10, metric: configuration.metric,
            threads: threads, progress: progress)
        let usage = index.memoryUsage
        var rows: [BenchRow] = []
        for refineFactor in refineFactors {
            for probeCount in probeCounts {
                progress.note("measuring nprobe \(probeCount), refine \(refineFactor)")
                var parameters = SearchParameters(k: 10, probeCount: probeCount, refineFactor: refineFactor, threads: 1)
                let (results, oneThreadSeconds) = try measureSeconds { try index.search(dataset.queries, parameters: parameters) }
                parameters.threads = resolvedThreadCount(threads)
                let (_, allThreadSeconds) = try measureSeconds { try index.search(dataset.queries, parameters: parameters) }
                parameters.threads = 1
                let latencies = try sampleLatencies(index, parameters)
                let ids = results.map { $0.map(\.id) }
                rows.append(BenchRow(
                    probeCount: probeCount, refineFactor: refineFactor,
                    rAt1: NeighborRecall.rAt1(results: ids, groundTruth: groundTruth),
                    recallAt10: NeighborRecall.kRecallAtK(results: ids, groundTruth: groundTruth, k: 10),
                    queriesPerSecondOneThread: Double(dataset.queries.rowCount) / oneThreadSeconds,
                    queriesPerSecondAllThreads: Double(dataset.queries.rowCount) / allThreadSeconds,
                    p50Milliseconds: percentile(latencies, 0.50) * 1000,
                    p99Milliseconds: percentile(latencies, 0.99) * 1000,
                    indexBytes: usage.perVectorBytes + usage.fixedBytes,
                    trainSeconds: trainSeconds, buildSeconds: buildSeconds))
            }
        }
        return rows
    }

    func prepareIndex() throws -> (IVFPQIndex, Double, Double) {
        if let indexPath, FileManager.default.fileExists(atPath: indexPath) {
            let index = try IndexStorage.load(indexPath)
            guard index.configuration == configuration, index.count == dataset.base.rowCount else {
                throw SightlineError.badInput("\(indexPath) was built with other parameters or data: delete it or pass another --index")
            }
            progress.note("reusing \(indexPath)")
            return (index, 0, 0)
        }
        var (index, trainSeconds) = try measureSeconds {
            try Workflows.train(dataset.train, configuration: configuration, settings: training, progress: progress)
        }
        let (_, buildSeconds) = try measureSeconds {
            try Workflows.build(&index, vectors: dataset.base, threads: threads, progress: progress)
        }
        if let indexPath { try IndexStorage.save(index, to: indexPath) }
        return (index, trainSeconds, buildSeconds)
    }

    func sampleLatencies(_ index: IVFPQIndex, _ parameters: SearchParameters) throws -> [Double] {
        let count = min(latencySampleCount, dataset.queries.rowCount)
        var latencies: [Double] = []
        latencies.reserveCapacity(count)
        for row in 0 ..< count {
            let query = dataset.queries.slice(row ..< row + 1)
            let (_, seconds) = try measureSeconds { try index.search(query, parameters: parameters) }
            latencies.append(seconds)
        }
        return latencies
    }
}

/// The `fraction` quantile of `values` (nearest rank).
public func percentile(_ values: [Double], _ fraction: Double) -> Double {
    guard !values.isEmpty else { return 0 }
    let sorted = values.sorted()
    let rank = Int((fraction * Double(sorted.count)).rounded(.up)) - 1
    return sorted[max(0, min(sorted.count - 1, rank))]
}

/// A fixed-width table of bench rows for the terminal.
public func formatBenchTable(_ rows: [BenchRow]) -> String {
    var lines = ["nprobe refine    R@1  10-R@10   QPS(1t)   QPS(mt)  p50 ms  p99 ms  index MB  train s  build s"]
    for row in rows {
        lines.append(String(format: "%6d %6d %6.4f   %6.4f %9.0f %9.0f %7.3f %7.3f %9.1f %8.2f %8.2f",
                            row.probeCount, row.refineFactor, row.rAt1, row.recallAt10,
                            row.queriesPerSecondOneThread, row.queriesPerSecondAllThreads,
                            row.p50Milliseconds, row.p99Milliseconds, Double(row.indexBytes) / 1e6,
                            row.trainSeconds, row.buildSeconds))
    }
    return lines.joined(separator: "\n")
}

import Datasets
import ErrorKinds
import Foundation
import ProcessRuntime
import RetrievalEval
import VectorIndex
import VectorMath

/// One row of `sightline bench`.
public struct BenchRow: Sendable, Encodable {
    public var probeCount: Int
    public var refineFactor: Int
    /// `SearchParameters.probeRatio` (0: every one of the nprobe lists).
    public var probeRatio: Float
    public var rAt1: Double
    public var recallAt10: Double
    public var queriesPerSecondOneThread: Double
    public var queriesPerSecondAllThreads: Double
    public var p50Milliseconds: Double
    public var p99Milliseconds: Double
    public var indexBytes: Int
    public var trainSeconds: Double
    public var buildSeconds: Double

    /// The documented JSON keys of `sightline bench --json`.
    enum CodingKeys: String, CodingKey {
        case probeCount = "nprobe", refineFactor = "refine", probeRatio = "probe_ratio", rAt1 = "r_at_1", recallAt10 = "recall_at_10"
        case queriesPerSecondOneThread = "qps_1t", queriesPerSecondAllThreads = "qps_mt"
        case p50Milliseconds = "p50_ms", p99Milliseconds = "p99_ms", indexBytes = "index_bytes"
        case trainSeconds = "train_s", buildSeconds = "build_s"
    }
}

/// One measured search setting of `sightline bench`.
public struct BenchSetting: Sendable, Equatable {
    public var probeCount: Int
    public var refineFactor: Int
    public var probeRatio: Float
    public init(probeCount: Int, refineFactor: Int, probeRatio: Float = 0) {
        self.probeCount = probeCount
        self.refineFactor = refineFactor
        self.probeRatio = probeRatio
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
    /// `SearchParameters.probeRatio` values swept under each (nprobe, refine).
    public var probeRatios: [Float] = [0]
    /// Measure exactly these (nprobe, refine, probe ratio) settings, in order, instead of every
    /// combination of the three lists.
    public var settings: [BenchSetting]?
    public var threads: Int = 0
    /// Queries timed one by one for the latency percentiles.
    public var latencySampleCount = 1000
    /// Timed passes over the query set per row; the QPS columns keep the fastest (a shared
    /// machine only ever slows a pass down).
    public var repeats = 1
    public var progress = ProgressReporter()
    /// Reuse this trained and built index file when it exists; write it otherwise.
    public var indexPath: String?

    public init(dataset: Dataset, configuration: IVFPQConfiguration, probeCounts: [Int]) {
        self.dataset = dataset
        self.configuration = configuration
        self.probeCounts = probeCounts
    }

    public func run() throws -> [BenchRow] {
        let settings = self.settings ?? refineFactors.flatMap { refine in
            probeCounts.flatMap { nprobe in probeRatios.map { BenchSetting(probeCount: nprobe, refineFactor: refine, probeRatio: $0) } }
        }
        // Checked before training: the index would refuse these only at the first search.
        for setting in settings { try SearchParameters.checkProbeRatio(setting.probeRatio, metric: configuration.metric) }
        for probeCount in settings.map(\.probeCount) where probeCount < 1 || probeCount > configuration.listCount {
            throw VectorIndexError.invalidProbeCount(nprobe: probeCount, nlist: configuration.listCount)
        }
        guard dataset.queries.dimension == dataset.base.dimension else {
            throw VectorIndexError.dimensionMismatch(expected: dataset.base.dimension, got: dataset.queries.dimension)
        }
        guard dataset.base.rowCount >= 10 else { throw VectorIndexError.invalidK(k: 10, available: dataset.base.rowCount) }
        let (index, trainSeconds, buildSeconds) = try prepareIndex()
        let groundTruth = try IndexPipeline.groundTruth(
            queries: dataset.queries, base: dataset.base, k: 10, metric: configuration.metric,
            threads: threads, progress: progress)
        let usage = index.memoryUsage
        var rows: [BenchRow] = []
        for setting in settings {
            let (probeCount, refineFactor, probeRatio) = (setting.probeCount, setting.refineFactor, setting.probeRatio)
            progress.note("measuring nprobe \(probeCount), refine \(refineFactor)"
                          + (probeRatio > 0 ? ", probe ratio \(probeRatio)" : ""))
            var parameters = SearchParameters(k: 10, probeCount: probeCount, refineFactor: refineFactor, threads: 1)
            parameters.probeRatio = probeRatio
            var (results, oneThreadSeconds) = try measureSeconds { try index.search(dataset.queries, parameters: parameters) }
            for _ in 1 ..< max(1, repeats) {
                let (again, seconds) = try measureSeconds { try index.search(dataset.queries, parameters: parameters) }
                if seconds < oneThreadSeconds { (results, oneThreadSeconds) = (again, seconds) }
            }
            parameters.threads = resolvedThreadCount(threads)
            var allThreadSeconds = Double.infinity
            for _ in 0 ..< max(1, repeats) {
                allThreadSeconds = min(allThreadSeconds, try measureSeconds { try index.search(dataset.queries, parameters: parameters) }.1)
            }
            parameters.threads = 1
            let latencies = try sampleLatencies(index, parameters)
            let ids = results.map { $0.map(\.id) }
            rows.append(BenchRow(
                probeCount: probeCount, refineFactor: refineFactor, probeRatio: probeRatio,
                rAt1: NeighborRecall.rAt1(results: ids, groundTruth: groundTruth),
                recallAt10: NeighborRecall.kRecallAtK(results: ids, groundTruth: groundTruth, k: 10),
                queriesPerSecondOneThread: Double(dataset.queries.rowCount) / oneThreadSeconds,
                queriesPerSecondAllThreads: Double(dataset.queries.rowCount) / allThreadSeconds,
                p50Milliseconds: percentile(latencies, 0.50) * 1000,
                p99Milliseconds: percentile(latencies, 0.99) * 1000,
                indexBytes: usage.perVectorBytes + usage.fixedBytes,
                trainSeconds: trainSeconds, buildSeconds: buildSeconds))
        }
        return rows
    }

    func prepareIndex() throws -> (IVFPQIndex, Double, Double) {
        if let indexPath, FileManager.default.fileExists(atPath: indexPath) {
            var index = try IndexStorage.load(indexPath)
            // The coarse ranking is not part of what was built: a stored index is measured either way.
            var stored = index.configuration
            stored.coarseGraph = configuration.coarseGraph
            guard stored == configuration, index.count == dataset.base.rowCount else {
                throw SightlineError.badInput("\(indexPath) was built with other parameters or data: delete it or pass another --index")
            }
            if index.configuration.coarseGraph != configuration.coarseGraph {
                progress.note("ranking lists \(configuration.coarseGraph ? "through an HNSW graph" : "exactly") on \(indexPath)")
                try index.setCoarseGraph(configuration.coarseGraph)
            }
            progress.note("reusing \(indexPath)")
            return (index, 0, 0)
        }
        var (index, trainSeconds) = try measureSeconds {
            try IndexPipeline.train(dataset.train, configuration: configuration, settings: training, progress: progress)
        }
        let (_, buildSeconds) = try measureSeconds {
            try IndexPipeline.build(&index, vectors: dataset.base, threads: threads, progress: progress)
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

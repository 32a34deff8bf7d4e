import Datasets
import ProcessRuntime
import RetrievalEval
import VectorIndex
import VectorMath

/// One efSearch of `sightline bench --index-type hnsw`.
public struct HNSWBenchRow: Sendable, Encodable {
    public var efSearch: Int
    public var rAt1: Double
    public var recallAt10: Double
    public var queriesPerSecondOneThread: Double
    public var queriesPerSecondAllThreads: Double
    public var p50Milliseconds: Double
    public var p99Milliseconds: Double
    public var indexBytes: Int
    public var buildSeconds: Double

    enum CodingKeys: String, CodingKey {
        case efSearch = "ef_search", rAt1 = "r_at_1", recallAt10 = "recall_at_10"
        case queriesPerSecondOneThread = "qps_1t", queriesPerSecondAllThreads = "qps_mt"
        case p50Milliseconds = "p50_ms", p99Milliseconds = "p99_ms", indexBytes = "index_bytes", buildSeconds = "build_s"
    }
}

/// The HNSW sweep: builds the graph over the base set (one thread: the build is sequential and
/// seeded), computes exact ground truth, then for each efSearch measures recall, single- and
/// multi-thread throughput and per-query latency, as `Benchmark` does for IVF-PQ.
public struct HNSWBenchmark {
    public var dataset: Dataset
    public var metric: Metric = .l2
    public var neighborsPerNode = 32
    public var efConstruction = 40
    public var efSearches: [Int] = [16, 32, 64, 128]
    public var threads = 0
    public var latencySampleCount = 1000
    /// Timed passes per row; the QPS columns keep the fastest.
    public var repeats = 1
    public var seed: UInt64 = 1234
    public var progress = ProgressReporter()

    public init(dataset: Dataset) {
        self.dataset = dataset
    }

    public func run() throws -> [HNSWBenchRow] {
        guard dataset.queries.dimension == dataset.base.dimension else {
            throw VectorIndexError.dimensionMismatch(expected: dataset.base.dimension, got: dataset.queries.dimension)
        }
        guard dataset.base.rowCount >= 10 else { throw VectorIndexError.invalidK(k: 10, available: dataset.base.rowCount) }
        var index = try HNSWIndex(dimension: dataset.base.dimension, metric: metric, neighborsPerNode: neighborsPerNode,
                                  efConstruction: efConstruction, seed: seed)
        let ids = (0 ..< dataset.base.rowCount).map { VectorID(UInt64($0)) }
        let reporter = progress
        let (_, buildSeconds) = try measureSeconds {
            try index.add(dataset.base, ids: ids) { done, total in reporter.report("build HNSW", done, total) }
        }
        let groundTruth = try IndexPipeline.groundTruth(queries: dataset.queries, base: dataset.base, k: 10, metric: metric,
                                                        threads: threads, progress: progress)
        var rows: [HNSWBenchRow] = []
        for ef in efSearches {
            progress.note("measuring efSearch \(ef)")
            var (results, oneThread) = try measureSeconds { try index.search(dataset.queries, k: 10, efSearch: ef) }
            var allThreads = Double.infinity
            for pass in 0 ..< max(1, repeats) {
                if pass > 0 {
                    oneThread = min(oneThread, try measureSeconds { results = try index.search(dataset.queries, k: 10, efSearch: ef) }.1)
                }
                allThreads = min(allThreads, try measureSeconds {
                    try index.search(dataset.queries, k: 10, efSearch: ef, threads: resolvedThreadCount(threads))
                }.1)
            }
            var latencies: [Double] = []
            for row in 0 ..< min(latencySampleCount, dataset.queries.rowCount) {
                let query = dataset.queries.slice(row ..< row + 1)
                latencies.append(try measureSeconds { try index.search(query, k: 10, efSearch: ef) }.1)
            }
            let found = results.map { $0.map(\.id) }
            rows.append(HNSWBenchRow(
                efSearch: ef, rAt1: NeighborRecall.rAt1(results: found, groundTruth: groundTruth),
                recallAt10: NeighborRecall.kRecallAtK(results: found, groundTruth: groundTruth, k: 10),
                queriesPerSecondOneThread: Double(dataset.queries.rowCount) / oneThread,
                queriesPerSecondAllThreads: Double(dataset.queries.rowCount) / allThreads,
                p50Milliseconds: percentile(latencies, 0.50) * 1000, p99Milliseconds: percentile(latencies, 0.99) * 1000,
                indexBytes: index.memoryBytes, buildSeconds: buildSeconds))
        }
        return rows
    }
}

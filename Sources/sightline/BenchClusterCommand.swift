import ArgumentParser
import ClusterClient
import Datasets
import Dispatch
import ErrorKinds
import Foundation
import ProcessRuntime
import RetrievalEval
import Synchronization
import VectorMath
import Wire
import Workflows

struct BenchClusterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-cluster",
        abstract: "Send a query set through the coordinator, sweep nprobe, compare with exact ground truth.",
        discussion: """
        Example: sightline bench-cluster --token-file runs/local/token --dataset fashion-mnist --nprobe 1,4,16 --clients 4 --json
        Assumes the cluster holds the dataset's base set under ids 0…n−1 (as `sightline ingest` adds it). \
        Queries go one per request from --clients concurrent clients; latency is per request.
        """)

    @OptionGroup var target: CoordinatorOptions

    @Option(help: "Dataset whose base set the cluster holds and whose queries are sent.")
    var dataset: String

    @Option(help: "Query vectors when --dataset is a file (labels from NAME.labels when present).")
    var queries: String?

    @Option(help: "Comma-separated nprobe values.")
    var nprobe: String = "1,2,4,8,16"

    @Option(help: "Use only the first N queries (0 = all).")
    var limit: Int = 2000

    @Option(help: "Concurrent clients.")
    var clients: Int = 1

    @Option(help: "Refine factor: re-rank refine·k candidates with the stored full vectors (0 = off; needs store_vectors).")
    var refine: Int = 0

    @Option(help: """
        Probe ratio: visit a list only when its centroid is at most this many times as far (squared) as the 4th-nearest \
        (0 = off; else ≥ 1; L2 only).
        """)
    var probeRatio: Float = 0

    @Option(help: "Neighbours asked per query; 100 or more also reports recall@100 and label mAP@100 (GLDv2's metric).")
    var k: Int = 10

    @Option(help: "Search deadline in milliseconds.")
    var deadlineMs: Int = 2000

    @Flag(help: """
        One JSON object per row (keys: nprobe, refine, probe_ratio, r_at_1, recall_at_10, qps, p50_ms, p95_ms, p99_ms, partial_rate, \
        label_r_at_1 when both sets carry labels, recall_at_100 with --k 100 or more, and map_at_100 with labels too).
        """)
    var json = false

    func run() throws {
        try reportingErrors {
            guard clients >= 1 else { throw SightlineError.badInput("--clients must be at least 1") }
            guard (10 ... 1000).contains(k) else { throw SightlineError.badInput("--k must be between 10 and 1000") }
            guard (0 ... 64).contains(refine) else { throw SightlineError.badInput("--refine must be between 0 (off) and 64") }
            guard SearchOptions.isValidProbeRatio(probeRatio) else {
                throw SightlineError.badInput("--probe-ratio \(probeRatio): use 0 (off) or 1 … \(Int(SearchOptions.maxProbeRatio))")
            }
            let probes = try parseIntegerList(nprobe, name: "nprobe")
            let client = try target.client()
            let data = try DatasetCatalog.load(dataset, queries: self.queries)
            var queries = data.queries
            if limit > 0, limit < queries.rowCount { queries = queries.slice(0 ..< limit) }
            // With labels on both sides: does the top hit show the same thing (ids = base rows, as `ingest` assigns them)?
            let labels = data.baseLabels.flatMap { base in data.queryLabels.map { (base, Array($0.prefix(queries.rowCount))) } }
            let progress = ProgressReporter()
            let truth = try IndexPipeline.groundTruth(queries: queries, base: data.base, k: min(k, 100), metric: .l2, threads: 0,
                                                      progress: progress)
            if !json {
                printLine("nprobe    R@1  10-R@10      QPS  p50 ms  p95 ms  p99 ms  partial"
                          + (labels == nil ? "" : "  label R@1"))
            }
            for probe in probes {
                let row = try measure(client: client, queries: queries, truth: truth, labels: labels, nprobe: probe, progress: progress)
                if json { try printJSON(row) } else { printLine(row.text) }
            }
        }
    }

    struct Row: Encodable {
        var nprobe: Int, refine: Int, probeRatio: Float, rAt1: Double, recallAt10: Double, qps: Double, p50: Double, p95: Double,
            p99: Double, partialRate: Double
        /// Present only when both sets carry labels.
        var labelRAt1: Double?
        /// Present with k ≥ 100 (mAP@100 with labels too).
        var recallAt100: Double?
        var mapAt100: Double?

        enum CodingKeys: String, CodingKey {
            case nprobe, refine, probeRatio = "probe_ratio", rAt1 = "r_at_1", recallAt10 = "recall_at_10", qps, p50 = "p50_ms",
                p95 = "p95_ms", p99 = "p99_ms"
            case partialRate = "partial_rate", labelRAt1 = "label_r_at_1", recallAt100 = "recall_at_100", mapAt100 = "map_at_100"
        }

        var text: String {
            String(format: "%6d %6.4f   %6.4f %8.0f %7.3f %7.3f %7.3f  %7.4f", nprobe, rAt1, recallAt10, qps, p50, p95, p99, partialRate)
                + (labelRAt1.map { String(format: "     %6.4f", $0) } ?? "")
                + (recallAt100.map { String(format: "  R@100 %6.4f", $0) } ?? "")
                + (mapAt100.map { String(format: "  mAP@100 %6.4f", $0) } ?? "")
        }
    }

    func measure(client: ServiceClient, queries: Matrix, truth: [[VectorID]], labels: ([Int32], [Int32])?, nprobe: Int,
                 progress: ProgressReporter) throws -> Row {
        let count = queries.rowCount
        let results = Mutex([[VectorID]](repeating: [], count: count))
        let latencies = Mutex([Double](repeating: 0, count: count))
        let partial = Atomic<Int>(0)
        let next = Atomic<Int>(0)
        let failure = Mutex<(any Error)?>(nil)
        let dimension = queries.dimension
        let (_, seconds) = measureSeconds {
            // One thread per client: `concurrentPerform` would run only as many at once as there are cores.
            let finished = DispatchGroup()
            for _ in 0 ..< clients {
                finished.enter()
                Thread.detachNewThread {
                    defer { finished.leave() }
                    while true {
                        let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
                        if index >= count { break }
                        let vector = Array(queries.row(index))
                        do {
                            let (reply, latency) = try measureSeconds {
                                try client.search(VectorBatch(dimension: dimension, values: vector),
                                                  options: SearchOptions(k: k, nprobe: nprobe, refine: refine, probeRatio: probeRatio),
                                                  deadlineMilliseconds: deadlineMs)
                            }
                            if reply.partial { partial.wrappingAdd(1, ordering: .relaxed) }
                            results.withLock { $0[index] = reply.results.first?.ids.map { VectorID($0) } ?? [] }
                            latencies.withLock { $0[index] = latency }
                            progress.report("nprobe \(nprobe)", index + 1, count)
                        } catch {
                            failure.withLock { $0 = $0 ?? error }
                            next.store(count, ordering: .relaxed)
                        }
                    }
                }
            }
            finished.wait()
        }
        if let error = failure.withLock({ $0 }) { throw error }
        let found = results.withLock { $0 }
        let sorted = latencies.withLock { $0 }
        var recallAt100: Double?, mapAt100: Double?
        if k >= 100 {
            recallAt100 = NeighborRecall.kRecallAtK(results: found, groundTruth: truth, k: 100)
            if let (base, query) = labels {
                var perLabel: [Int32: Int] = [:]
                for label in base { perLabel[label, default: 0] += 1 }
                let ranked = found.map { ids in ids.prefix(100).map { Int($0.rawValue) < base.count ? base[Int($0.rawValue)] : -1 } }
                mapAt100 = LabelRetrieval.meanAveragePrecisionAt100(rankedLabels: ranked, queryLabels: query,
                                                                   relevantCounts: query.map { perLabel[$0] ?? 0 })
            }
        }
        return Row(nprobe: nprobe, refine: refine, probeRatio: probeRatio, rAt1: NeighborRecall.rAt1(results: found, groundTruth: truth),
                   recallAt10: NeighborRecall.kRecallAtK(results: found, groundTruth: truth, k: 10),
                   qps: Double(count) / seconds, p50: percentile(sorted, 0.5) * 1000, p95: percentile(sorted, 0.95) * 1000,
                   p99: percentile(sorted, 0.99) * 1000, partialRate: Double(partial.load(ordering: .relaxed)) / Double(count),
                   labelRAt1: labels.map { base, query in
                       let hits = zip(found, query).count { ids, label in
                           ids.first.map { Int($0.rawValue) < base.count && base[Int($0.rawValue)] == label } ?? false
                       }
                       return Double(hits) / Double(max(1, count))
                   }, recallAt100: recallAt100, mapAt100: mapAt100)
    }
}

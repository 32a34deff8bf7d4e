import ArgumentParser
import ErrorKinds
import Foundation
import ProcessRuntime
import Workflows

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Build (or load) an index and sweep nprobe and refine: recall, QPS, latency, memory.",
        discussion: """
        Example: sightline bench --dataset fashion-mnist --nlist 256 --m 16 --nprobe 1,2,4,8,16 --threads 1 --json
        QPS(1t) searches the whole query set as one batch on one thread; QPS(mt) on --threads \
        threads; p50/p99 time queries one at a time on one thread.
        """)

    @OptionGroup var data: DatasetOptions
    @OptionGroup var shape: IndexShapeOptions

    @Option(help: "Comma-separated nprobe values to sweep.")
    var nprobe: String = "1,2,4,8,16"

    @Option(help: "Comma-separated refine factors to sweep (0 = off; >1 needs --store-vectors).")
    var refine: String = "0"

    @Option(help: "Threads for training, building and the multi-thread QPS column (0 = all cores).")
    var threads: Int = 0

    @Option(help: "Reuse this index file if it exists (same parameters and data), write it otherwise.")
    var index: String?

    @Option(help: "Queries timed one at a time for p50/p99.")
    var latencyQueries: Int = 1000

    @Flag(help: """
        One JSON object per row (keys: nprobe, refine, r_at_1, recall_at_10, qps_1t, qps_mt, p50_ms, p99_ms, \
        index_bytes, train_s, build_s).
        """)
    var json = false

    func run() throws {
        try reportingErrors {
            let dataset = try data.load()
            var benchmark = Benchmark(
                dataset: dataset, configuration: try shape.configuration(dimension: dataset.base.dimension),
                probeCounts: try parseIntegerList(nprobe, name: "nprobe"))
            benchmark.refineFactors = try parseIntegerList(refine, name: "refine")
            benchmark.training = shape.training(threads: threads)
            benchmark.threads = threads
            benchmark.indexPath = index
            benchmark.latencySampleCount = latencyQueries
            let rows = try benchmark.run()
            if json {
                try rows.forEach(printJSON)
            } else {
                printLine("\(dataset.name): \(dataset.base.rowCount) base, \(dataset.queries.rowCount) queries, "
                          + "d=\(dataset.base.dimension), nlist=\(shape.nlist), m=\(shape.m)")
                printLine(formatBenchTable(rows))
            }
        }
    }
}

/// A fixed-width table of bench rows for the terminal.
func formatBenchTable(_ rows: [BenchRow]) -> String {
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

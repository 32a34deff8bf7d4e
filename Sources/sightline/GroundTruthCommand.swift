import ArgumentParser
import Datasets
import ErrorKinds
import ProcessRuntime
import VectorMath
import Workflows

struct GroundTruthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "groundtruth",
        abstract: "Exact k nearest neighbours of each query (brute force through BLAS), written as .ivecs.",
        discussion: "Example: sightline groundtruth --dataset base.fvecs --queries q.fvecs --k 100 --out gt.ivecs")

    @OptionGroup var data: DatasetOptions

    @Option(help: "Neighbours per query.")
    var k: Int = 100

    @Option(help: "Distance: l2 or ip.")
    var metric: String = "l2"

    @Option(help: "Threads (0 = all cores).")
    var threads: Int = 0

    @Option(help: "Output .ivecs file (row numbers of the base set).")
    var out: String

    func run() throws {
        try reportingErrors {
            guard let parsed = Metric(rawValue: metric) else { throw SightlineError.badInput("unknown metric \"\(metric)\": use l2 or ip") }
            let dataset = try data.load()
            let truth = try IndexPipeline.groundTruth(queries: dataset.queries, base: dataset.base, k: k, metric: parsed,
                                                      threads: threads, progress: ProgressReporter())
            try TexmexFormat.writeIntegerRows(truth.map { $0.map { Int32(truncatingIfNeeded: $0.rawValue) } }, to: out)
            printLine("wrote exact top-\(k) of \(truth.count) queries -> \(out)")
        }
    }
}

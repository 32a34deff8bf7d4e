import ArgumentParser
import Datasets
import Descriptors
import ErrorKinds
import Foundation
import ProcessRuntime
import RetrievalEval
import VectorIndex
import VectorMath
import Workflows

struct DedupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dedup",
        abstract: "Find every pair of near-duplicate vectors (squared L2 distance ≤ threshold) through an IVF-PQ index.",
        discussion: """
        Example: sightline dedup --input descriptors.fvecs --threshold 0.02 --out pairs.tsv
        Builds an IVF-PQ index over the vectors (full vectors kept), range-searches it with every vector \
        (ADC screen with a radius widened by the codes' error, exact distances decide) and merges the pairs \
        found from either end. --exact runs the brute-force all-pairs baseline instead.
        Output (--out): one pair a line, "first<TAB>second<TAB>distance", rows counted from 0.
        """)

    @Option(help: "Vectors: .fvecs, .bvecs, .npy.")
    var input: String

    @Option(help: "Squared L2 distance at or under which two vectors are duplicates.")
    var threshold: Float

    @Option(help: "Inverted lists probed per vector.")
    var nprobe: Int = 8

    @Option(help: "Inverted lists (0: about 4·√n).")
    var nlist: Int = 0

    @Flag(help: "Brute-force all pairs (the exact baseline).")
    var exact = false

    @Option(help: "Write the pairs here (TSV).")
    var out: String?

    @Option(help: "Threads (0 = all cores).")
    var threads: Int = 0

    @Flag(help: "One JSON object.")
    var json = false

    func run() throws {
        try reportingErrors {
            let vectors = try VectorFiles.read(input)
            if let row = vectors.firstNonFiniteRow() { throw SightlineError.badInput("\(input): vector \(row) holds NaN or infinity") }
            guard threshold.isFinite, threshold >= 0 else { throw SightlineError.badInput("--threshold must be a finite number ≥ 0") }
            let progress = ProgressReporter()
            let pairs: [RowPair], seconds: Double
            if exact {
                (pairs, seconds) = measureSeconds {
                    exactPairsWithin(vectors, radius: threshold, threads: resolvedThreadCount(threads)) {
                        progress.report("all pairs", $0, $1)
                    }
                }
            } else {
                var settings = DedupSettings(radius: threshold)
                settings.probeCount = nprobe
                settings.listCount = nlist
                settings.threads = threads
                let result = try findNearDuplicates(vectors, settings: settings) { progress.report("range search", $0, $1) }
                (pairs, seconds) = (result.pairs, result.indexSeconds + result.searchSeconds)
            }
            if let out {
                let text = pairs.map { "\($0.first)\t\($0.second)\t\($0.distance)" }.joined(separator: "\n")
                try FileBytes.writeAtomically(Array((text + (pairs.isEmpty ? "" : "\n")).utf8), to: out)
            }
            if json {
                try printJSON(DedupSummary(pairs: pairs.count, seconds: seconds, method: exact ? "exact" : "ivfpq"))
            } else {
                printLine(String(format: "%d duplicate pairs among %d vectors (%@) in %.2f s%@", pairs.count, vectors.rowCount,
                                 exact ? "exact all pairs" : "IVF-PQ range search", seconds, out.map { " -> \($0)" } ?? ""))
            }
        }
    }
}

/// `sightline dedup --json`.
struct DedupSummary: Encodable {
    var pairs: Int
    var seconds: Double
    var method: String
}

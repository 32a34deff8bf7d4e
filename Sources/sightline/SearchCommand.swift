import ArgumentParser
import Datasets
import ErrorKinds
import Foundation
import ProcessRuntime
import VectorIndex
import VectorMath
import Workflows

struct SearchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Search an index with a query file; print neighbours or write them as .ivecs.",
        discussion: "Example: sightline search --index fmnist.slix --queries q.fvecs --k 10 --nprobe 8 --json")

    @Option(help: "Index file (from `sightline build`).")
    var index: String

    @Option(help: "Query vectors (.fvecs, .bvecs, .npy, IDX) or a dataset name (its queries are used).")
    var queries: String

    @Option(help: "Neighbours per query.")
    var k: Int = 10

    @Option(help: "Lists visited per query (1…nlist): more is slower and more accurate.")
    var nprobe: Int = 8

    @Option(help: """
        Visit a list only when its centroid is at most this many times as far (squared) as the 4th-nearest \
        (0 = off; else ≥ 1; L2 only).
        """)
    var probeRatio: Float = 0

    @Option(help: "Re-rank k×refine candidates exactly (needs an index built with --store-vectors); 0 = off.")
    var refine: Int = 0

    @Option(help: "Threads (0 = all cores).")
    var threads: Int = 0

    @Flag(help: "Print one JSON object per query: {\"query\": i, \"ids\": [...], \"distances\": [...]}.")
    var json = false

    @Option(help: "Write the ids as .ivecs instead of printing.")
    var out: String?

    func run() throws {
        try reportingErrors {
            let loaded = try IndexStorage.load(index)
            let queryMatrix = queries.contains(".") || queries.contains("/")
                ? try VectorFiles.read(queries) : try DatasetCatalog.load(queries).queries
            var parameters = SearchParameters(k: k, probeCount: nprobe, refineFactor: refine, threads: threads)
            parameters.probeRatio = probeRatio
            let results = try loaded.search(queryMatrix, parameters: parameters)
            if let out {
                try TexmexFormat.writeIntegerRows(results.map { $0.map { Int32(truncatingIfNeeded: $0.id.rawValue) } }, to: out)
                printLine("wrote \(results.count) result rows -> \(out)")
                return
            }
            for (number, row) in results.enumerated() {
                if json {
                    try printJSON(SearchResult(query: number, ids: row.map(\.id.rawValue), distances: row.map(\.distance)))
                } else {
                    printLine("\(number): " + row.map { "\($0.id.rawValue) (\(String(format: "%.4f", $0.distance)))" }
                                              .joined(separator: " "))
                }
            }
        }
    }
}

/// One line of `sightline search --json`.
struct SearchResult: Encodable {
    var query: Int
    var ids: [UInt64]
    var distances: [Float]
}

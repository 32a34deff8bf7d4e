import ArgumentParser
import ClusterClient
import Datasets
import ErrorKinds
import Foundation
import ProcessRuntime
import Wire
import Workflows

struct QueryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "Search the cluster through the coordinator.",
        discussion: "Example: sightline query --token-file runs/local/token --queries fashion-mnist --limit 3 --k 5 --json")

    @OptionGroup var target: CoordinatorOptions

    @Option(help: "Query vectors: a file, or a dataset name (its query split).")
    var queries: String

    @Option(help: "Use only the first N queries (0 = all).")
    var limit: Int = 0

    @Option(help: "Neighbours per query.")
    var k: Int = 10

    @Option(help: "Lists probed per shard (0 = the cluster's default).")
    var nprobe: Int = 0

    @Option(help: "Re-rank k×refine candidates exactly (needs store_vectors in [index]); 0 = off.")
    var refine: Int = 0

    @Option(help: """
        Visit a list only when its centroid is at most this many times as far (squared) as the 4th-nearest \
        (0 = off; else ≥ 1; L2 only).
        """)
    var probeRatio: Float = 0

    @Option(help: "Search deadline in milliseconds.")
    var deadlineMs: Int = 2000

    @Flag(help: "One JSON object per query: {\"query\", \"ids\", \"distances\", \"partial\", \"missing_shards\"}.")
    var json = false

    func run() throws {
        try reportingErrors {
            let client = try target.client()
            var matrix = queries.contains(".") || queries.contains("/")
                ? try VectorFiles.read(queries)
                : try DatasetCatalog.load(queries).queries
            if limit > 0, limit < matrix.rowCount { matrix = matrix.slice(0 ..< limit) }
            let reply = try client.search(VectorBatch(dimension: matrix.dimension, values: matrix.values),
                                          options: SearchOptions(k: k, nprobe: nprobe, refine: refine, probeRatio: probeRatio),
                                          deadlineMilliseconds: deadlineMs)
            for (number, result) in reply.results.enumerated() {
                if json {
                    try printJSON(QueryResult(query: number, ids: result.ids, distances: result.distances,
                                              partial: reply.partial, missingShards: reply.missingShards))
                } else {
                    printLine("\(number): " + zip(result.ids, result.distances).map { "\($0) (\(String(format: "%.4f", $1)))" }
                                              .joined(separator: " "))
                }
            }
            if reply.partial, !json { printLine("partial answer: shards \(reply.missingShards) did not answer in time") }
        }
    }
}

/// One line of `sightline query --json`.
struct QueryResult: Encodable {
    var query: Int
    var ids: [UInt64]
    var distances: [Float]
    var partial: Bool
    var missingShards: [UInt32]

    enum CodingKeys: String, CodingKey {
        case query, ids, distances, partial, missingShards = "missing_shards"
    }
}

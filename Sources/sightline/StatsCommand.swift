import ArgumentParser
import ClusterClient
import ErrorKinds
import Foundation
import ProcessRuntime
import Wire
import Workflows

struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Per-shard vector counts, memory, queries served and latency percentiles.",
        discussion: "Example: sightline stats --token-file runs/local/token --json")

    @OptionGroup var target: CoordinatorOptions

    @Flag(help: "One JSON object per shard.")
    var json = false

    func run() throws {
        try reportingErrors {
            let client = try target.client()
            let (shards, total) = try client.stats()
            // A worker serves once it holds the coordinator's codebooks (pushed by the health loop).
            let codebookVersion = try client.health().codebookVersion
            if !json { printLine("shard    vectors  memory MB  queries   p50 ms   p95 ms   p99 ms  state  url") }
            for shard in shards {
                if json {
                    try printJSON(ShardStatsLine(shard, codebookVersion: codebookVersion))
                } else {
                    let numbers = String(format: "%5d  %9d  %9.1f  %7d  %7.3f  %7.3f  %7.3f", shard.shard, shard.vectorCount,
                                         Double(shard.memoryBytes) / 1e6, shard.queriesServed, shard.latencyP50Milliseconds,
                                         shard.latencyP95Milliseconds, shard.latencyP99Milliseconds)
                    let state = !shard.reachable ? "UNREACHABLE" : shard.codebookVersion == codebookVersion ? "ready" : "no codebooks yet"
                    printLine("\(numbers)  \(state)  \(shard.url)")
                }
            }
            if !json { printLine("total vectors: \(total)") }
        }
    }
}

/// One line of `sightline stats --json`.
struct ShardStatsLine: Encodable {
    var shard: UInt32
    var reachable: Bool
    /// Reachable and holding the coordinator's codebooks: it can take adds and searches.
    var ready: Bool
    var vectors: UInt64
    var memoryBytes: UInt64
    var queriesServed: UInt64
    var p50Milliseconds: Float
    var p95Milliseconds: Float
    var p99Milliseconds: Float
    var lists: Int
    var url: String

    init(_ stats: ShardStatsReply, codebookVersion: UInt64) {
        shard = stats.shard
        reachable = stats.reachable
        ready = stats.reachable && stats.codebookVersion == codebookVersion
        vectors = stats.vectorCount
        memoryBytes = stats.memoryBytes
        queriesServed = stats.queriesServed
        p50Milliseconds = stats.latencyP50Milliseconds
        p95Milliseconds = stats.latencyP95Milliseconds
        p99Milliseconds = stats.latencyP99Milliseconds
        lists = stats.listSizes.count
        url = stats.url
    }

    enum CodingKeys: String, CodingKey {
        case shard, reachable, ready, vectors, memoryBytes = "memory_bytes", queriesServed = "queries_served"
        case p50Milliseconds = "p50_ms", p95Milliseconds = "p95_ms", p99Milliseconds = "p99_ms", lists, url
    }
}

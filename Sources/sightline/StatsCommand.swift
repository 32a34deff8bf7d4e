import ArgumentParser
import ClusterClient
import SightlineKit
import Wire

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
            let (shards, total) = try clusterCall { try client.stats() }
            if !json { printLine("shard    vectors  memory MB  queries   p50 ms   p95 ms   p99 ms  state  url") }
            for shard in shards {
                if json {
                    printLine("{\"shard\": \(shard.shard), \"reachable\": \(shard.reachable), \"vectors\": \(shard.vectorCount), "
                        + "\"memory_bytes\": \(shard.memoryBytes), \"queries_served\": \(shard.queriesServed), "
                        + "\"p50_ms\": \(shard.latencyP50Milliseconds), \"p95_ms\": \(shard.latencyP95Milliseconds), "
                        + "\"p99_ms\": \(shard.latencyP99Milliseconds), \"lists\": \(shard.listSizes.count), \"url\": \"\(shard.url)\"}")
                } else {
                    let numbers = String(format: "%5d  %9d  %9.1f  %7d  %7.3f  %7.3f  %7.3f", shard.shard, shard.vectorCount,
                                         Double(shard.memoryBytes) / 1e6, shard.queriesServed, shard.latencyP50Milliseconds,
                                         shard.latencyP95Milliseconds, shard.latencyP99Milliseconds)
                    printLine("\(numbers)  \(shard.reachable ? "reachable" : "UNREACHABLE")  \(shard.url)")
                }
            }
            if !json { printLine("total vectors: \(total)") }
        }
    }
}

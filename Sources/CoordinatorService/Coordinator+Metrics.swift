import ClusterModel
import Foundation
import ShardStore
import Synchronization
import VectorMath
import Wire

/// What `/metrics` reports: the registry's counters and histograms, recorded as requests pass,
/// plus gauges read from the health loop's view of the shards.
extension Coordinator {
    func recordRequest(_ body: RequestBody, reply: ResponseBody, started: DispatchTime) {
        let kind = body.name
        let seconds = secondsElapsed(since: started.uptimeNanoseconds)
        metrics.count("sightline_requests_total", help: "Requests answered by the coordinator, by kind.", labels: [("kind", kind)])
        metrics.observe("sightline_request_seconds", help: "Time the coordinator took to answer, by kind.", labels: [("kind", kind)],
                        seconds: seconds)
        switch reply {
        case .error(let error):
            metrics.count("sightline_request_errors_total", help: "Requests answered with an error, by kind and code.",
                          labels: [("kind", kind), ("code", "\(error.code)")])
        case .search(let answer) where answer.partial, .searchBatch(let answer) where answer.partial:
            metrics.count("sightline_partial_answers_total", help: "Searches answered without every shard.")
        case .identify(let answer) where answer.partial:
            metrics.count("sightline_partial_answers_total", help: "Searches answered without every shard.")
        case .add(let added, _, _):
            metrics.count("sightline_vectors_added_total", help: "Vectors newly stored by adds.", by: added)
        case .delete(let deleted):
            metrics.count("sightline_vectors_deleted_total", help: "Vectors deleted.", by: deleted)
        default: break
        }
    }

    /// A frame the gate refused before its body was read (bad token, malformed, oversized).
    func recordRefusal(_ reply: [UInt8]) {
        var code = "unknown"
        if let response = try? WireCodec.decodeResponse(reply), case .error(let error) = response.body { code = "\(error.code)" }
        metrics.count("sightline_requests_refused_total", help: "Frames refused before their body was read, by error code.",
                      labels: [("code", code)])
    }

    /// The Prometheus text of `/metrics`.
    public func metricsText() -> String {
        let shards = routing.withLock { $0.readShards }
        let shardStates = shards.map { ($0, states.state(of: $0)) }
        var text = metrics.text()
        text += MetricsRegistry.gauge("sightline_shard_vectors", help: "Vectors stored per shard (health loop's last look).",
                                      samples: shardStates.map { ([("shard", "\($0.0.rawValue)")], Double($0.1.vectorCount)) })
        text += MetricsRegistry.gauge("sightline_shard_up", help: "1 when the shard has a copy whose breaker is closed.",
                                      samples: shards.map { ([("shard", "\($0.rawValue)")], shardCalls.everyCopySkipped($0) ? 0 : 1) })
        text += MetricsRegistry.gauge("sightline_ingest_vectors_per_second",
                                      help: "Vectors committed by adds over the last 10 s, per second.",
                                      samples: [([], ingestRate.perSecond())])
        if let thumbnails {
            text += MetricsRegistry.gauge("sightline_thumbnails", help: "Images kept for the web page.",
                                          samples: [([], Double(thumbnails.count))])
        }
        return text
    }
}

/// Vectors committed per second, counted in one-second buckets over the last 10 s.
final class IngestRate: Sendable {
    private let buckets = Mutex<[(second: UInt64, count: Int)]>([])

    func add(_ count: Int) {
        let now = DispatchTime.now().uptimeNanoseconds / 1_000_000_000
        buckets.withLock { buckets in
            if buckets.last?.second == now { buckets[buckets.count - 1].count += count } else { buckets.append((now, count)) }
            buckets.removeAll { $0.second + 10 < now }
        }
    }

    func perSecond() -> Double {
        let now = DispatchTime.now().uptimeNanoseconds / 1_000_000_000
        return Double(buckets.withLock { $0.filter { $0.second + 10 >= now }.reduce(0) { $0 + $1.count } }) / 10
    }
}

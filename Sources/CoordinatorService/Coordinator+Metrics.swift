import ClusterModel
import Foundation
import ShardStore
import Synchronization
import Wire

/// What `/metrics` reports: the registry's counters and histograms, recorded as requests pass,
/// plus gauges read from the health loop's view of the shards.
extension Coordinator {
    func recordRequest(_ body: RequestBody, reply: ResponseBody, started: DispatchTime) {
        let kind = body.name
        let seconds = Double(DispatchTime.now().uptimeNanoseconds &- started.uptimeNanoseconds) / 1e9
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

    func recordShardLatency(_ shard: ShardID, since started: DispatchTime) {
        let seconds = Double(DispatchTime.now().uptimeNanoseconds &- started.uptimeNanoseconds) / 1e9
        metrics.observe("sightline_shard_call_seconds", help: "Round trips of the coordinator's calls to each shard.",
                        labels: [("shard", "\(shard.rawValue)")], seconds: seconds)
    }

    /// The Prometheus text of `/metrics`.
    public func metricsText() -> String {
        let shards = routing.withLock { $0.readShards }
        let states = shards.map { ($0, state(of: $0)) }
        var text = metrics.text()
        text += MetricsRegistry.gauge("sightline_shard_vectors", help: "Vectors stored per shard (health loop's last look).",
                                      samples: states.map { ([("shard", "\($0.0.rawValue)")], Double($0.1.vectorCount)) })
        text += MetricsRegistry.gauge("sightline_shard_up", help: "1 when the shard has a copy whose breaker is closed.",
                                      samples: shards.map { ([("shard", "\($0.rawValue)")], everyCopySkipped($0) ? 0 : 1) })
        text += MetricsRegistry.gauge("sightline_ingest_vectors_per_second", help: "Vectors committed by adds over the last 10 s, per second.",
                                      samples: [([], ingestRate.perSecond())])
        if let thumbnails {
            text += MetricsRegistry.gauge("sightline_thumbnails", help: "Images kept for the web page.",
                                          samples: [([], Double(thumbnails.count))])
        }
        return text
    }

    /// Checks an add's thumbnails before anything is stored: none, or one per id, each small.
    func checkThumbnails(of batch: AddBatch) throws {
        guard !batch.thumbnails.isEmpty else { return }
        guard thumbnails != nil else { throw ErrorReply(.badRequest, "this coordinator keeps no thumbnails") }
        guard batch.thumbnails.count == batch.ids.count else {
            throw ErrorReply(.badRequest, "thumbnails must be empty or one per id: \(batch.ids.count) ids, \(batch.thumbnails.count) images")
        }
        if let row = batch.thumbnails.firstIndex(where: { $0.count > ThumbnailStore.maxBytes }) {
            throw ErrorReply(.badRequest, "the thumbnail of id \(batch.ids[row]) has \(batch.thumbnails[row].count) bytes "
                             + "(at most \(ThumbnailStore.maxBytes))")
        }
        // Served back to browsers as images: only PNG and JPEG bytes are kept.
        let isImage = { (bytes: [UInt8]) in bytes.isEmpty || bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]) || bytes.starts(with: [0xFF, 0xD8, 0xFF]) }
        if let row = batch.thumbnails.firstIndex(where: { !isImage($0) }) {
            throw ErrorReply(.badRequest, "the thumbnail of id \(batch.ids[row]) is not a PNG or JPEG image")
        }
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

/// Read-only looks for the HTTP API.
extension Coordinator {
    /// Label and key of each id from the catalog (nil where none was stored or the read failed).
    public func items(_ ids: [UInt64]) -> [(label: Int32?, key: String?)] {
        ids.map { id in ((try? catalog.item(id)) ?? nil).map { ($0.label, $0.key) } ?? (nil, nil) }
    }

    /// Shards in the map, and those with a copy whose breaker is closed.
    public func shardHealth() -> (shards: Int, up: Int) {
        let shards = routing.withLock { $0.readShards }
        return (shards.count, shards.filter { !everyCopySkipped($0) }.count)
    }
}

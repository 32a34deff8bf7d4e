import ErrorKinds
import Foundation
import Wire

/// Health, stats, metrics, the OpenAPI document and the images the web page shows.
extension Gateway {
    struct Health: Encodable {
        var status: String
        var shards: Int
        var shards_up: Int
    }

    /// No token needed: a load balancer's probe. "degraded" while a shard has no answering copy
    /// (searches then answer partially); the coordinator itself serves either way.
    func healthz(_ request: HTTPRequest) -> HTTPResponse {
        let (shards, up) = backend.health()
        return respond(request) { _ in Health(status: up == shards ? "ok" : "degraded", shards: shards, shards_up: up) }
    }

    struct ShardEntry: Encodable {
        var shard: UInt32
        var url: String
        var reachable: Bool
        var vector_count: UInt64
        var memory_bytes: UInt64
        var queries_served: UInt64
        var latency_p50_ms: Float
        var latency_p95_ms: Float
        var latency_p99_ms: Float
    }

    struct Stats: Encodable {
        var total_vectors: UInt64
        var dimension: Int
        var shards: [ShardEntry]
        var images: Bool
    }

    func stats(_ request: HTTPRequest) throws -> Stats {
        guard case .stats(let shards, let total) = try call(.stats, request) else {
            throw APIError(.internalError, "unexpected reply")
        }
        return Stats(total_vectors: total, dimension: dimension, shards: shards.map {
            ShardEntry(shard: $0.shard, url: $0.url, reachable: $0.reachable, vector_count: $0.vectorCount, memory_bytes: $0.memoryBytes,
                       queries_served: $0.queriesServed, latency_p50_ms: $0.latencyP50Milliseconds,
                       latency_p95_ms: $0.latencyP95Milliseconds, latency_p99_ms: $0.latencyP99Milliseconds)
        }, images: embedder != nil)
    }

    func metrics() -> HTTPResponse {
        HTTPResponse(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: Array(backend.metrics().utf8))
    }

    func openAPIDocument() -> HTTPResponse {
        guard let openAPI else {
            return APIError(.notFound, "no OpenAPI document: set [http] web_root to cluster/web").response
        }
        return HTTPResponse(status: 200, contentType: "application/json", body: openAPI)
    }

    struct Sample: Encodable {
        var ids: [UInt64]
    }

    /// GET /v1/sample?count=N: random ids that have an image (the page's query picker).
    func sample(_ request: HTTPRequest) throws -> Sample {
        let count = try bounded(request.query["count"].map { Int($0) ?? -1 }, "count", default: 12, in: 1 ... 100)
        return Sample(ids: backend.sample(count))
    }

    /// GET /v1/images/ID: the image stored with an id.
    func image(_ request: HTTPRequest) -> HTTPResponse {
        let tail = request.path.dropFirst("/v1/images/".count)
        guard request.path.hasPrefix("/v1/images/"), let id = UInt64(tail) else {
            return APIError.badRequest("use /v1/images/ID with a whole-number id").response
        }
        guard let bytes = backend.thumbnail(id) else {
            return APIError(.notFound, "no image is stored for id \(id)").response
        }
        let type = bytes.starts(with: [0xFF, 0xD8]) ? "image/jpeg" : "image/png"
        return HTTPResponse(status: 200, contentType: type, body: bytes, headers: [("Cache-Control", "private, max-age=60")])
    }
}

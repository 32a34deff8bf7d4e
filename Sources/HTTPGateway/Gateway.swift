import ErrorKinds
import ClusterModel
import Foundation
import Synchronization
import Wire

/// What the HTTP API needs from the coordinator process: the same request handler the nng
/// endpoint uses (so tokens, limits and errors are the nng API's), and a few read-only looks at
/// the catalog and the health loop.
public struct GatewayBackend: Sendable {
    public var handle: @Sendable ([UInt8]) -> [UInt8]
    /// Label and key of each id (nil when none was stored).
    public var items: @Sendable ([UInt64]) -> [(label: Int32?, key: String?)]
    public var thumbnail: @Sendable (UInt64) -> [UInt8]?
    public var sample: @Sendable (Int) -> [UInt64]
    public var metrics: @Sendable () -> String
    /// Shards in the map, and those with a copy that answers.
    public var health: @Sendable () -> (shards: Int, up: Int)

    public init(handle: @escaping @Sendable ([UInt8]) -> [UInt8], items: @escaping @Sendable ([UInt64]) -> [(label: Int32?, key: String?)],
                thumbnail: @escaping @Sendable (UInt64) -> [UInt8]?, sample: @escaping @Sendable (Int) -> [UInt64],
                metrics: @escaping @Sendable () -> String, health: @escaping @Sendable () -> (shards: Int, up: Int)) {
        self.handle = handle
        self.items = items
        self.thumbnail = thumbnail
        self.sample = sample
        self.metrics = metrics
        self.health = health
    }
}

/// The HTTP/JSON API: each route turns JSON (or an image) into the nng API's request, runs it
/// through the coordinator's handler and turns the reply into JSON. `docs/openapi.json` (served
/// at /openapi.json) describes every route; a test holds the two together.
public final class Gateway: Sendable {
    let backend: GatewayBackend
    let embedder: (any ImageDescriber)?
    let dimension: Int
    let openAPI: [UInt8]?
    let requestIDs = RequestCounter()

    public init(backend: GatewayBackend, embedder: (any ImageDescriber)?, dimension: Int, openAPI: [UInt8]?) {
        self.backend = backend
        self.embedder = embedder
        self.dimension = dimension
        self.openAPI = openAPI
    }

    /// Every route of the API (the web page's files are added by the server's caller).
    public var routes: [HTTPRoute] {
        [
            HTTPRoute("GET", "/healthz", role: nil) { [self] in healthz($0) },
            HTTPRoute("GET", "/openapi.json", role: nil) { [self] _ in openAPIDocument() },
            HTTPRoute("GET", "/metrics", role: .read) { [self] _ in metrics() },
            HTTPRoute("GET", "/v1/stats", role: .read) { [self] in respond($0, stats) },
            HTTPRoute("POST", "/v1/search", role: .read, takesBody: true) { [self] in respond($0, search) },
            HTTPRoute("POST", "/v1/search/image", role: .read, takesBody: true) { [self] in respond($0, searchImage) },
            HTTPRoute("POST", "/v1/verify", role: .read, takesBody: true) { [self] in respond($0, verify) },
            HTTPRoute("POST", "/v1/identify", role: .read, takesBody: true) { [self] in respond($0, identify) },
            HTTPRoute("POST", "/v1/vectors", role: .write, takesBody: true) { [self] in respond($0, addVectors) },
            HTTPRoute("DELETE", "/v1/vectors", role: .write, takesBody: true) { [self] in respond($0, deleteVectors) },
            HTTPRoute("GET", "/v1/sample", role: .read) { [self] in respond($0, sample) },
            HTTPRoute("GET", "/v1/images", isTree: true, role: .read) { [self] in image($0) },
        ]
    }

    /// Runs a JSON route: its value encoded as JSON with status 200, its error as the API's error.
    func respond<T: Encodable>(_ request: HTTPRequest, _ route: (HTTPRequest) throws -> T) -> HTTPResponse {
        do {
            let value = try route(request)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            return HTTPResponse(status: 200, contentType: "application/json", body: Array(try encoder.encode(value)))
        } catch let error as APIError {
            return error.response
        } catch let error as ErrorReply {
            return APIError(error).response
        } catch let error as any ClassifiedError {
            return APIError(error.kind, error.description).response
        } catch {
            return APIError(.internalError, "\(error)").response
        }
    }

    /// Sends `body` through the coordinator's handler as the caller (its token, its deadline).
    func call(_ body: RequestBody, _ request: HTTPRequest, deadlineMilliseconds: Int? = nil) throws -> ResponseBody {
        if let deadlineMilliseconds, !(0 ... 600_000).contains(deadlineMilliseconds) {
            throw APIError.badRequest("deadline_ms = \(deadlineMilliseconds): use 1 … 600000 (0 or absent: the cluster's default)")
        }
        let envelope = Envelope(requestID: requestIDs.next(), tokenBytes: request.token,
                                deadlineMilliseconds: UInt32(deadlineMilliseconds ?? 0))
        let reply = backend.handle(WireCodec.encode(Request(envelope: envelope, body: body)))
        let response: Response
        do {
            response = try WireCodec.decodeResponse(reply, expectedLists: body.repliedLists)
        } catch {
            throw APIError(.internalError, "unreadable reply from the coordinator: \(error)")
        }
        if case .error(let error) = response.body { throw APIError(error) }
        return response.body
    }

    /// A count from a query string or a JSON field, checked against its range.
    func bounded(_ value: Int?, _ name: String, default fallback: Int, in range: ClosedRange<Int>) throws -> Int {
        let value = value ?? fallback
        guard range.contains(value) else {
            throw APIError.badRequest("\(name) = \(value): use \(range.lowerBound) … \(range.upperBound)")
        }
        return value
    }

    func decodeBase64(_ text: String, _ name: String) throws -> [UInt8] {
        guard let data = Data(base64Encoded: text, options: .ignoreUnknownCharacters) else {
            throw APIError.badRequest("\(name) is not base64")
        }
        return Array(data)
    }

    func requireEmbedder() throws -> any ImageDescriber {
        guard let embedder else {
            throw APIError.badRequest("this cluster has no descriptor model for images: set [http] descriptor_model in its config")
        }
        return embedder
    }
}

/// Request ids for the frames the gateway sends the handler (echoed back, not otherwise used).
final class RequestCounter: Sendable {
    private let value = Mutex<UInt64>(0)
    func next() -> UInt64 { value.withLock { $0 &+= 1; return $0 } }
}

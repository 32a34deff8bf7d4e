import ClusterModel
import Foundation
import ImageEmbedding
import Testing
import Wire
@testable import HTTPGateway

/// The gateway without sockets: its routes against the committed OpenAPI document, its error
/// mapping, and hostile bodies on every JSON route (always an answer, never a crash).
@Suite struct GatewayTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// A backend that answers searches with ids 1…k (distances 1…k plus the probe ratio asked) and everything else
    /// with the request's name as a NOT_FOUND (so each test sees which request the gateway built).
    static func gateway(dimension: Int = 4) -> Gateway {
        let backend = GatewayBackend(
            handle: { frame in
                guard let request = try? WireCodec.decodeRequest(frame) else {
                    return WireCodec.encode(Response(requestID: 0, body: .error(ErrorReply(.badRequest, "unreadable"))))
                }
                let body: ResponseBody
                switch request.body {
                case .searchBatch(let batch, let options):
                    body = .searchBatch(SearchReply(results: (0 ..< batch.count).map { _ in
                        NeighborList(ids: (1 ... UInt64(options.k)).map { $0 },
                                     distances: (1 ... options.k).map { Float($0) + options.probeRatio })
                    }))
                case .stats: body = .stats(shards: [], totalVectors: 0)
                default: body = .error(ErrorReply(.notFound, request.body.name))
                }
                return WireCodec.encode(Response(requestID: request.envelope.requestID, body: body))
            },
            items: { ids in ids.map { _ in (nil, nil) } }, thumbnail: { _ in nil }, sample: { _ in [] },
            metrics: { "" }, health: { (1, 1) })
        let openAPI = try? Array(Data(contentsOf: root.appendingPathComponent("cluster/web/openapi.json")))
        return Gateway(backend: backend, embedder: try? ImageEmbedder(spec: "pixels", dimension: dimension), dimension: dimension,
                       openAPI: openAPI)
    }

    static func request(_ method: String, _ path: String, _ body: String, role: AccessRole? = .cluster) -> HTTPRequest {
        HTTPRequest(method: method, path: path, query: [:], contentType: "application/json", body: Array(body.utf8), token: [],
                    role: role)
    }

    static func route(_ gateway: Gateway, _ method: String, _ path: String) throws -> HTTPRoute {
        try #require(gateway.routes.first { $0.method == method && $0.path == path })
    }

    @Test func everyRouteIsDocumentedAndEveryDocumentedOperationIsARoute() throws {
        let data = try Data(contentsOf: Self.root.appendingPathComponent("cluster/web/openapi.json"))
        let document = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        let documented = Set(paths.flatMap { path, operations in operations.keys.map { "\($0.uppercased()) \(path)" } })
        let served = Set(Self.gateway().routes.map { "\($0.method) \($0.isTree ? $0.path + "/{id}" : $0.path)" })
        #expect(documented == served)
        // Routes open without a token are exactly those the document marks `security: []`.
        for route in Self.gateway().routes {
            let operation = paths[route.isTree ? route.path + "/{id}" : route.path]?[route.method.lowercased()] as? [String: Any]
            let isPublic = (operation?["security"] as? [Any])?.isEmpty == true
            #expect(isPublic == (route.role == nil), "\(route.method) \(route.path)")
        }
    }

    @Test func errorsMapToStatuses() {
        let cases: [(ErrorCode, Int, String)] = [(.badRequest, 400, "BAD_REQUEST"), (.unauthorized, 401, "UNAUTHORIZED"),
                                                 (.forbidden, 403, "FORBIDDEN"), (.unspecified, 500, "INTERNAL"),
                                                 (.notFound, 404, "NOT_FOUND"), (.unavailable, 503, "UNAVAILABLE"),
                                                 (.deadlineExceeded, 504, "DEADLINE_EXCEEDED"), (.conflict, 409, "CONFLICT"),
                                                 (.internalError, 500, "INTERNAL")]
        for (code, status, name) in cases {
            let error = APIError(ErrorReply(code, "m", committedIDs: [3]))
            #expect(error.status == status && error.code == name)
            let body = try? JSONSerialization.jsonObject(with: Data(error.response.body)) as? [String: [String: Any]]
            #expect(body?["error"]?["code"] as? String == name)
            #expect(body?["error"]?["committed_ids"] as? [Int] == [3])
        }
        // The status follows the code alone: no message decides it.
        #expect(APIError(ErrorReply(.unauthorized, "a read token may not send add: it needs a write token")).status == 401)
    }

    @Test func searchBuildsTheRequestAndAnswersJSON() throws {
        let gateway = Self.gateway()
        let response = try Self.route(gateway, "POST", "/v1/search").handle(Self.request("POST", "/v1/search",
                                                                                            #"{"vectors": [[1,2,3,4],[0,0,0,1]], "k": 3}"#))
        #expect(response.status == 200)
        let body = try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
        let results = try #require(body["results"] as? [[String: Any]])
        #expect(results.count == 2)
        #expect(results[0]["ids"] as? [Int] == [1, 2, 3])
        // A stored-id query goes through fetch_vectors first (the fake answers NOT_FOUND for it).
        let byID = try Self.route(gateway, "POST", "/v1/search").handle(Self.request("POST", "/v1/search", #"{"ids": [5]}"#))
        #expect(byID.status == 404 && String(decoding: byID.body, as: UTF8.self).contains("fetch_vectors"))
    }

    /// probe_ratio reaches the search options from the JSON body and from the image route's query
    /// string; out of range it is a 400 before any request.
    @Test func theProbeRatioIsPassedOnAndChecked() throws {
        let gateway = Self.gateway()
        let search = try Self.route(gateway, "POST", "/v1/search")
        let answered = search.handle(Self.request("POST", "/v1/search", #"{"vector": [1,2,3,4], "k": 2, "probe_ratio": 1.5}"#))
        #expect(answered.status == 200)
        let body = try #require(try JSONSerialization.jsonObject(with: Data(answered.body)) as? [String: Any])
        let hits = try #require((body["results"] as? [[String: Any]])?.first)
        #expect(hits["distances"] as? [Double] == [2.5, 3.5])
        for ratio in ["0.5", "-1", "2e6", "1e39"] {
            let refused = search.handle(Self.request("POST", "/v1/search", #"{"vector": [1,2,3,4], "probe_ratio": "# + ratio + "}"))
            #expect(refused.status == 400, "\(ratio): \(String(decoding: refused.body, as: UTF8.self))")
        }
        let image = try Self.route(gateway, "POST", "/v1/search/image")
        // Refused before the (empty, undecodable) image is looked at: the message names the ratio.
        for ratio in ["abc", "nan", "inf", "0.5", "2e6"] {
            var request = Self.request("POST", "/v1/search/image", "")
            request.query = ["probe_ratio": ratio]
            let refused = image.handle(request)
            #expect(refused.status == 400 && String(decoding: refused.body, as: UTF8.self).contains("probe_ratio"), "\(ratio)")
        }
    }

    @Test func hostileBodiesGetAnswersNotCrashes() throws {
        let gateway = Self.gateway()
        let bodies = ["", "{", "null", "[]", "\"x\"", "{\"vector\": null}", "{\"vector\": [1e999]}",
                      "{\"vectors\": [[1,2,3,4]], \"k\": -1}", "{\"k\": 99999999999999999999}", "{\"ids\": [-1]}", "{\"ids\": [1.5]}",
                      "{\"images\": [\"!!\", \"??\"], \"threshold\": 1}",
                      "{\"image\": \"iVBORw0KGgo=\", \"threshold\": 1}", "{\"vector\": [1,2,3,4], \"threshold\": -1}",
                      "{\"ids\": [1], \"vectors\": [[1,2,3,4]], \"thumbnails\": [\"***\"]}", String(repeating: "[", count: 10_000)]
        var generator = SystemRandomNumberGenerator()
        var random: [String] = []
        for _ in 0 ..< 200 {
            let bytes = (0 ..< Int.random(in: 0 ..< 64, using: &generator)).map { _ in UInt8.random(in: 0 ... 255, using: &generator) }
            random.append(String(decoding: bytes, as: UTF8.self))
        }
        for route in gateway.routes where route.takesBody {
            for body in bodies + random {
                let response = route.handle(Self.request(route.method, route.path, body))
                #expect((200 ..< 600).contains(response.status))
                if response.status != 200 {
                    let parsed = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
                    #expect(parsed?["error"] != nil, "\(route.method) \(route.path) \(body.prefix(40)): \(response.status)")
                }
            }
        }
    }

    @Test func uriQueriesAreSplitAndDecoded() {
        let (path, query) = splitURI("/v1/search/image?k=5&name=a%20b+c&flag")
        #expect(path == "/v1/search/image")
        #expect(query == ["k": "5", "name": "a b c", "flag": ""])
        #expect(splitURI("/healthz").query.isEmpty)
    }
}

/// The coordinator hands the gateway its `ImageEmbedder` the same way.
extension ImageEmbedder: ImageDescriber {}

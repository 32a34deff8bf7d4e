import ClusterModel
import Testing
import VectorMath
@testable import ServiceSupport
@testable import Wire

@Suite struct RequestGateTests {
    static let tokens = AccessTokens(cluster: "cluster-secret", write: "writer", read: "reader")

    static func reply(_ gate: RequestGate, _ request: Request) throws -> Response {
        try WireCodec.decodeResponse(gate.handle(WireCodec.encode(request)) { request in
            .health(HealthReply(cluster: "c", shard: 0, codebookVersion: 0, vectorCount: 0, state: request.body.name))
        })
    }

    static func request(_ token: String, _ body: RequestBody, collection: String = "", deadline: UInt32 = 0) -> Request {
        Request(envelope: Envelope(requestID: 9, token: token, deadlineMilliseconds: deadline, collection: collection), body: body)
    }

    static func errorCode(_ response: Response) -> ErrorCode? {
        if case .error(let reply) = response.body { return reply.code }
        return nil
    }

    @Test func tokensRolesCollectionsAndDeadlinesAreCheckedBeforeTheBody() throws {
        let gate = RequestGate(tokens: Self.tokens, collection: "faces", maxFrameBytes: 1 << 20)
        #expect(Self.errorCode(try Self.reply(gate, Self.request("reader", .stats))) == nil)
        #expect(Self.errorCode(try Self.reply(gate, Self.request("reader", .delete(ids: [1])))) == .unauthorized)
        #expect(Self.errorCode(try Self.reply(gate, Self.request("writer", .delete(ids: [1])))) == nil)
        #expect(Self.errorCode(try Self.reply(gate, Self.request("writer", .codebookFetch))) == nil)
        #expect(Self.errorCode(try Self.reply(gate, Self.request("cluster-secret", .codebookPush(version: 1, indexFile: [])))) == nil)
        #expect(Self.errorCode(try Self.reply(gate, Self.request("", .stats))) == .unauthorized)
        #expect(Self.errorCode(try Self.reply(gate, Self.request("reader", .stats, collection: "cars"))) == .notFound)
        #expect(Self.errorCode(try Self.reply(gate, Self.request("reader", .stats, deadline: 600_001))) == .badRequest)
        let response = try Self.reply(gate, Self.request("reader", .stats))
        #expect(response.requestID == 9)
    }

    /// Large frames reserve their unpack budget; one that does not fit is turned away at once.
    @Test func largeFramesWaitForMemoryNotSmallOnes() throws {
        let gate = RequestGate(tokens: Self.tokens, collection: "", maxFrameBytes: 8 << 20, admission: DecodeAdmission(bytes: 4 << 20))
        let large = AddBatch(ids: (0 ..< 1000).map(UInt64.init),
                             vectors: VectorBatch(dimension: 512, values: [Float](repeating: 1, count: 512_000)))
        let refused = try Self.reply(gate, Self.request("writer", .add(large)))
        #expect(Self.errorCode(refused) == .unavailable)
        #expect(Self.errorCode(try Self.reply(gate, Self.request("writer", .stats))) == nil)
        let roomy = RequestGate(tokens: Self.tokens, collection: "", maxFrameBytes: 8 << 20, admission: DecodeAdmission(bytes: 16 << 20))
        #expect(Self.errorCode(try Self.reply(roomy, Self.request("writer", .add(large)))) == nil)
        #expect(Self.errorCode(try Self.reply(roomy, Self.request("writer", .add(large)))) == nil)  // released after the first
    }

    @Test func searchOptionsAreBoundedTheSameEverywhere() {
        func check(_ options: SearchOptions, queries: Int = 1, storesVectors: Bool = true) throws {
            try validateSearchOptions(options, queryCount: queries, listCount: 8, storesVectors: storesVectors)
        }
        #expect(throws: ErrorReply.self) { try check(SearchOptions(k: 0, nprobe: 1)) }
        #expect(throws: ErrorReply.self) { try check(SearchOptions(k: 1, nprobe: 9)) }
        #expect(throws: ErrorReply.self) {
            try validateSearchOptions(SearchOptions(k: 1, nprobe: 1, refine: 65), queryCount: 1, listCount: 8, storesVectors: true)
        }
        #expect(throws: ErrorReply.self) {
            try validateSearchOptions(SearchOptions(k: 1, nprobe: 1, refine: 2), queryCount: 1, listCount: 8, storesVectors: false)
        }
        #expect(throws: ErrorReply.self) {
            try validateSearchOptions(SearchOptions(k: 10_000, nprobe: 1), queryCount: 201, listCount: 8, storesVectors: true)
        }
        #expect(throws: ErrorReply.self) {
            try check(SearchOptions(k: 10_000, nprobe: 1, refine: 64), queries: .max / 2)
        }
        #expect((try? validateSearchOptions(SearchOptions(k: 10_000, nprobe: 8, refine: 0), queryCount: 200, listCount: 8,
                                            storesVectors: false)) != nil)
    }

    @Test func neighbourListsConvertBothWays() {
        let neighbors = [Neighbor(distance: 0.5, id: VectorID(3)), Neighbor(distance: 0.75, id: VectorID(1))]
        #expect(NeighborList(neighbors).neighbors == neighbors)
        #expect(NeighborList(ids: [1, 2, 3], distances: [0.1]).neighbors.count == 1)
    }
}

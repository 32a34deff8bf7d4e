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
        #expect(Self.errorCode(try Self.reply(gate, Self.request("reader", .delete(ids: [1])))) == .forbidden)
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
        let roomy = RequestGate(tokens: Self.tokens, collection: "", maxFrameBytes: 8 << 20,
                                admission: DecodeAdmission(bytes: 32 << 20))
        #expect(Self.errorCode(try Self.reply(roomy, Self.request("writer", .add(large)))) == nil)
        #expect(Self.errorCode(try Self.reply(roomy, Self.request("writer", .add(large)))) == nil)  // released after the first
    }

    /// The role is checked on the body's field number: a read token's add is refused before the
    /// body is unpacked (this one would otherwise fail the unpack budget as BAD_REQUEST).
    @Test func theRoleIsCheckedBeforeTheBodyIsUnpacked() throws {
        let gate = RequestGate(tokens: Self.tokens, collection: "", maxFrameBytes: 64 << 20)
        let keys = AddBatch(ids: [1], vectors: VectorBatch(dimension: 1, values: [1]), keys: Array(repeating: "", count: 2_000_000))
        let refused = try Self.reply(gate, Self.request("reader", .add(keys)))
        guard case .error(let reply) = refused.body else { Issue.record("served"); return }
        #expect(reply.code == .forbidden)
        #expect(reply.message.contains("needs a write token"), "\(reply.message)")
        // Every body's field number maps to the role its case names.
        let bodies: [RequestBody] = [.stats, .health, .codebookFetch, .delete(ids: [1]), .fetchVectors(ids: [1]),
                                     .codebookPush(version: 1, indexFile: [1]),
                                     .search(vector: [1], options: SearchOptions(k: 1, nprobe: 1)),
                                     .placementUpdate([Placement(version: 1, shards: [0])]), .shardExport(after: nil, limit: 1),
                                     .shardFlow(FlowQuery(action: .inventory)), .clusterStatus,
                                     .clusterChange(ClusterChangeRequest(change: .rebalance))]
        for body in bodies {
            let frame = WireCodec.encode(Self.request("reader", body))
            let field = try frame.withUnsafeBytes { try WireCodec.bodyFieldNumber($0) }
            #expect(field == body.fieldNumber, "\(body.name)")
        }
        // Moving entries and changing the map need the cluster token; anyone may read the status.
        #expect(bodies.map(\.leastRole) == [.read, .read, .read, .write, .read, .cluster, .read,
                                                .cluster, .cluster, .cluster, .read, .cluster])
    }

    @Test func fetchesAreBoundedBeforeAnythingIsGathered() {
        #expect(throws: ErrorReply.self) { try checkFetchSize(3_000_000, dimension: 16) }
        #expect((try? checkFetchSize(100_000, dimension: 128)) != nil)
    }

    @Test func searchOptionsAreBoundedTheSameEverywhere() {
        func check(_ options: SearchOptions, queries: Int = 1, storesVectors: Bool = true) throws {
            try validateSearchOptions(options, queryCount: queries, listCount: 8, storesVectors: storesVectors)
        }
        #expect(throws: ErrorReply.self) { try check(SearchOptions(k: 0, nprobe: 1)) }
        // Every shard gets queries × nprobe probes from the coordinator: bounded like the results.
        #expect(throws: ErrorReply.self) { try check(SearchOptions(k: 1, nprobe: 8), queries: 250_001) }
        #expect((try? check(SearchOptions(k: 1, nprobe: 8), queries: 250_000)) != nil)
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

/// A frame that carries two bodies (or one body field twice) is refused before anything runs,
/// whatever the token: protobuf keeps the last, so a role checked on the first would admit one
/// request and run another.
@Suite struct SmuggledBodyTests {
    /// `frame` without its first field (the envelope): a body a client appends to another frame.
    static func bodyOnly(_ request: Request) -> [UInt8] {
        let frame = WireCodec.encode(request)
        var offset = 1  // the envelope's tag is one byte (field 1, wire type 2)
        var length = 0, shift = 0
        while true {
            let byte = frame[offset]
            offset += 1
            length |= Int(byte & 0x7F) << shift
            shift += 7
            if byte & 0x80 == 0 { break }
        }
        return Array(frame[(offset + length)...])
    }

    static let smuggled: [(String, RequestBody)] = [
        ("delete", .delete(ids: [1])),
        ("backup", .backup(.snapshot)),
        ("add-replica", .clusterChange(ClusterChangeRequest(change: .addReplica(url: "tcp://127.0.0.1:9", host: "", shard: 0,
                                                                                  replacing: ""), dryRun: true, rate: 0))),
        ("search", .search(vector: [1], options: SearchOptions(k: 1, nprobe: 1))),
    ]

    @Test func framesWithTwoBodiesOrARepeatedFieldRunNothingForAnyRole() throws {
        let gate = RequestGate(tokens: RequestGateTests.tokens, collection: "", maxFrameBytes: 1 << 20)
        for token in ["reader", "writer", "cluster-secret"] {
            let cover = WireCodec.encode(RequestGateTests.request(token, .search(vector: [1], options: SearchOptions(k: 1, nprobe: 1))))
            for (name, body) in Self.smuggled {
                let second = RequestGateTests.request(token, body)
                // Two bodies, a second envelope with the body, and the body behind a second envelope only.
                for frame in [cover + Self.bodyOnly(second), cover + WireCodec.encode(second),
                              WireCodec.encode(RequestGateTests.request(token, body)) + Self.bodyOnly(second)] {
                    var ran: [String] = []
                    let response = try WireCodec.decodeResponse(gate.handle(frame) { request in
                        ran.append(request.body.name)
                        return .health(HealthReply(cluster: "c", shard: 0, codebookVersion: 0, vectorCount: 0, state: ""))
                    })
                    #expect(ran.isEmpty, "\(token) + \(name): \(ran) ran")
                    #expect(RequestGateTests.errorCode(response) == .badRequest, "\(token) + \(name): \(response)")
                }
            }
        }
        // The same bodies, one a frame, still run for a role that may send them.
        var ran: [String] = []
        for (_, body) in Self.smuggled {
            _ = gate.handle(WireCodec.encode(RequestGateTests.request("cluster-secret", body))) { request in
                ran.append(request.body.name)
                return .health(HealthReply(cluster: "c", shard: 0, codebookVersion: 0, vectorCount: 0, state: ""))
            }
        }
        #expect(ran.count == Self.smuggled.count)
    }

    @Test func theBodyFieldsAreTheOneofOfTheProto() {
        #expect((10 ... 29).allSatisfy { EnvelopePrefix.isBodyField(UInt64($0)) })
        #expect(![1, 2, 9, 30, 63, 64, 100, 1 << 40].contains { EnvelopePrefix.isBodyField(UInt64($0)) })
    }

    @Test func theFrameWalkNamesTheOneBodyAndRefusesRepeats() throws {
        let single = WireCodec.encode(RequestGateTests.request("t", .delete(ids: [1, 2])))
        #expect(try single.withUnsafeBytes { try WireCodec.bodyFieldNumber($0) } == 13)
        let twice = single + Self.bodyOnly(RequestGateTests.request("t", .delete(ids: [3])))
        #expect(throws: WireError.self) { try twice.withUnsafeBytes { try WireCodec.bodyFieldNumber($0) } }
        #expect(throws: WireError.self) { try WireCodec.decodeRequest(twice) }
        // A second envelope (a later token would replace the checked one in the decoded message).
        let other = RequestGateTests.request("other", .stats)
        let envelopeOnly = WireCodec.encode(other).dropLast(Self.bodyOnly(other).count)
        #expect(throws: WireError.self) { try WireCodec.decodeRequest(single + envelopeOnly) }
    }
}

import Foundation
import Testing
@testable import Wire

/// Frames built by an attacker: the envelope is read without unpacking the body, and no frame
/// may make the decoder allocate without bound.
@Suite struct HostileFrameTests {
    static let envelope = Envelope(requestID: 7, token: "t0ken", deadlineMilliseconds: 100)

    /// Appends `count` unknown 2-byte fields (field 1000, varint 0 → tag bytes, value byte).
    static func padded(_ frame: [UInt8], unknownFields count: Int) -> [UInt8] {
        // Field 100 (wire type 0): tag = 100 << 3 = 800 = varint [0xA0, 0x06], then value 0.
        var bytes = frame
        bytes.reserveCapacity(frame.count + 3 * count)
        for _ in 0 ..< count { bytes += [0xA0, 0x06, 0x00] }
        return bytes
    }

    @Test func theEnvelopeIsReadWithoutTheBody() throws {
        let frame = WireCodec.encode(Request(envelope: Self.envelope, body: .health))
        let huge = Self.padded(frame, unknownFields: 2_000_000)
        #expect(try WireCodec.decodeEnvelope(huge) == Self.envelope)
    }

    @Test func aFrameWhoseFirstFieldIsNotTheEnvelopeIsRefused() {
        var frame: [UInt8] = [0xA0, 0x06, 0x00]
        frame += WireCodec.encode(Request(envelope: Self.envelope, body: .health))
        #expect(throws: WireError.missingField("an envelope as the frame's first field (field 1)")) {
            try WireCodec.decodeEnvelope(frame)
        }
        // An envelope that claims more bytes than the frame has, or more than 64 KiB.
        #expect(throws: WireError.self) { try WireCodec.decodeEnvelope([0x0A, 0x7F, 0x08]) }
        #expect(throws: WireError.self) { try WireCodec.decodeEnvelope([0x0A, 0xFF, 0xFF, 0x7F] + [UInt8](repeating: 0, count: 10)) }
        #expect(throws: WireError.missingField("an envelope")) { try WireCodec.decodeEnvelope([]) }
    }

    /// Millions of tiny fields would unpack to ~30× the frame; the budget stops the unpack.
    @Test func unpackingIsBoundedByTheBudget() {
        let frame = WireCodec.encode(Request(envelope: Self.envelope, body: .health))
        let huge = Self.padded(frame, unknownFields: 3_000_000)
        do {
            _ = try WireCodec.decodeRequest(huge, limit: 64 << 20)
            Issue.record("a frame of 3 million unknown fields must not be unpacked")
        } catch {
            #expect(error.description.contains("4 × its size"), "\(error)")
        }
        // Empty repeated strings: each is a pointer and an allocation.
        let keys = AddBatch(ids: [1], vectors: VectorBatch(dimension: 1, values: [1]), keys: Array(repeating: "", count: 2_000_000))
        let frameWithKeys = WireCodec.encode(Request(envelope: Self.envelope, body: .add(keys)))
        #expect(throws: WireError.self) { try WireCodec.decodeRequest(frameWithKeys, limit: 64 << 20) }
    }

    /// A search of 10,000 queries with k = 1 answers 10,000 lists of 18 bytes, ~170 bytes each in
    /// memory: the reply decodes with the allowance of the queries sent, and not without it (the
    /// allowance comes from the caller, never from the server).
    @Test func aReplyOfManyShortListsDecodesWithTheAllowanceOfItsQueries() throws {
        let lists = (0 ..< 10_000).map { NeighborList(ids: [UInt64($0)], distances: [Float($0)]) }
        let frame = WireCodec.encode(Response(requestID: 1, body: .searchBatch(SearchReply(results: lists))))
        #expect(throws: WireError.self) { try WireCodec.decodeResponse(frame) }
        let queries = RequestBody.searchBatch(VectorBatch(dimension: 1, values: [Float](repeating: 0, count: 10_000)),
                                              options: SearchOptions(k: 1, nprobe: 1))
        #expect(queries.repliedLists == 10_000)
        let decoded = try WireCodec.decodeResponse(frame, expectedLists: queries.repliedLists)
        guard case .searchBatch(let reply) = decoded.body else { Issue.record("not a search reply: \(decoded.body)"); return }
        #expect(reply.results == lists)
    }

    /// `envelope` followed by a body of field `field` holding `body` (a hand-built sub-message).
    static func frame(bodyField field: UInt8, body: [UInt8]) throws -> [UInt8] {
        // A cluster_status request is the envelope then field 25 with an empty message: [0xCA, 0x01, 0x00].
        let statusFrame = WireCodec.encode(Request(envelope: envelope, body: .clusterStatus))
        try #require(statusFrame.suffix(3) == [0xCA, 0x01, 0x00])
        // Fields 16 … 31 take a two-byte tag: (field << 3 | 2) as a varint.
        let tag = UInt16(field) << 3 | 2
        let header: [UInt8] = [UInt8(tag & 0x7F) | 0x80, UInt8(tag >> 7), UInt8(body.count)]
        return Array(statusFrame.dropLast(3)) + header + body
    }

    /// proto3 enums are open, so protobuf-c hands any number through; the decoder must refuse it.
    @Test func unknownOrUnspecifiedEnumsAreErrorsNotTraps() throws {
        let rebalance = try Self.frame(bodyField: 26, body: [0x08, 0x03])
        #expect(try WireCodec.decodeRequest(rebalance).body == .clusterChange(ClusterChangeRequest(change: .rebalance)))
        let minusOne: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]
        let noKind = WireError.missingField("a cluster change kind (ADD_WORKER, REMOVE_WORKER, REBALANCE, ADD_REPLICA, ABORT_MOVE, "
                                            + "ADD_SHARD, REMOVE_REPLICA, SET_REPLICATION or DRAIN_HOST)")
        // cluster_change: no kind, an explicit 0, an unknown kind (with a url), a negative one.
        let changes: [([UInt8], WireError)] = [
            ([], noKind), ([0x08, 0x00], noKind), ([0x08, 0x0A, 0x12, 0x01, 0x78], .malformed("unknown cluster change kind 10")),
            ([0x08] + minusOne, .malformed("unknown cluster change kind \(UInt32.max)")),
        ]
        for (body, error) in changes {
            #expect(throws: error, "\(body)") { try WireCodec.decodeRequest(try Self.frame(bodyField: 26, body: body)) }
        }
        let digest = try Self.frame(bodyField: 24, body: [0x08, 0x02, 0x10, 0x01])
        #expect(try WireCodec.decodeRequest(digest).body == .shardFlow(FlowQuery(action: .digest, fromShard: 1)))
        // shard_flow: no action, an unknown action, a negative one.
        let flows: [([UInt8], WireError)] = [
            ([0x10, 0x01], .missingField("a shard flow action (INVENTORY, DIGEST or DROP)")),
            ([0x08, 0x04], .malformed("unknown shard flow action 4")),
            ([0x08] + minusOne, .malformed("unknown shard flow action \(UInt32.max)")),
        ]
        for (body, error) in flows {
            #expect(throws: error, "\(body)") { try WireCodec.decodeRequest(try Self.frame(bodyField: 24, body: body)) }
        }
    }

    /// A shard export reply without its entries message is a broken peer, not an empty page.
    @Test func anExportPageWithoutEntriesIsAnError() throws {
        // request_id 5, then field 23 (tag 0xBA 0x01) holding only done = true (field 3).
        let reply: [UInt8] = [0x08, 0x05, 0xBA, 0x01, 0x02, 0x18, 0x01]
        #expect(throws: WireError.missingField("the entries of a shard export page")) { try WireCodec.decodeResponse(reply) }
        // The same page with an empty entries message (field 1, length 0) decodes.
        let empty: [UInt8] = [0x08, 0x05, 0xBA, 0x01, 0x04, 0x0A, 0x00, 0x18, 0x01]
        let page = ExportPage(entries: ShardTransfer(codebookVersion: 0, ids: [], lists: [], codes: []), next: nil)
        #expect(try WireCodec.decodeResponse(empty) == Response(requestID: 5, body: .shardExport(page)))
    }

    @Test func ordinaryLargeBatchesStillDecode() throws {
        let batch = AddBatch(ids: (0 ..< 20_000).map(UInt64.init),
                             vectors: VectorBatch(dimension: 128, values: [Float](repeating: 0.5, count: 2_560_000)),
                             labels: [Int32](repeating: 3, count: 20_000), keys: (0 ..< 20_000).map { "image-\($0).png" })
        let request = Request(envelope: Self.envelope, body: .add(batch))
        #expect(try WireCodec.decodeRequest(WireCodec.encode(request)) == request)
    }
}

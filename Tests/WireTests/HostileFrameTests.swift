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

    @Test func ordinaryLargeBatchesStillDecode() throws {
        let batch = AddBatch(ids: (0 ..< 20_000).map(UInt64.init),
                             vectors: VectorBatch(dimension: 128, values: [Float](repeating: 0.5, count: 2_560_000)),
                             labels: [Int32](repeating: 3, count: 20_000), keys: (0 ..< 20_000).map { "image-\($0).png" })
        let request = Request(envelope: Self.envelope, body: .add(batch))
        #expect(try WireCodec.decodeRequest(WireCodec.encode(request)) == request)
    }
}

import CProtobufC
import CSightlineProto

/// Finds a request's envelope without unpacking the frame: the protocol requires it as the
/// frame's first field (field 1, length-delimited), which is where every protobuf encoder puts
/// it. Reading it costs a few bytes whatever the frame holds, so the token is checked before the
/// body costs anything.
enum EnvelopePrefix {
    /// Largest envelope accepted: a token, a collection name and four numbers.
    static let maxEnvelopeBytes = 64 << 10

    /// The byte range of the envelope message inside `frame`.
    static func locate(in frame: UnsafeBufferPointer<UInt8>) throws(WireError) -> Range<Int> {
        var offset = 0
        guard let tag = ProtobufFields.readVarint(frame, &offset) else { throw .malformed("not a Request message") }
        guard tag >> 3 == 1, tag & 7 == 2 else {
            throw .missingField("an envelope as the frame's first field (field 1)")
        }
        guard let length = ProtobufFields.readVarint(frame, &offset) else { throw .malformed("the envelope's length is cut off") }
        guard length <= UInt64(maxEnvelopeBytes) else {
            throw .malformed("an envelope of \(length) bytes (at most \(maxEnvelopeBytes))")
        }
        let end = offset + Int(length)
        guard end <= frame.count else { throw .malformed("the envelope is cut off") }
        return offset ..< end
    }

    /// The field number of the request's body (the `oneof`, fields 10 and up), found by walking
    /// the top-level fields without unpacking anything; nil when the frame has none. Lets a server
    /// check a token's role before the body costs an unpack.
    ///
    /// A protobuf decoder keeps the *last* occurrence of a field and the last member of a oneof,
    /// so a role checked on the first body of a frame that holds two would admit one body and run
    /// another. The walk therefore covers the whole frame (a few bytes a field: lengths are
    /// skipped, not read) and refuses a frame in which any top-level field occurs twice or that
    /// holds more than one body member: the body it returns is then the one that will run.
    static func bodyField(in frame: UnsafeBufferPointer<UInt8>) throws(WireError) -> UInt64? {
        var body: UInt64?
        var envelopes = 0
        try ProtobufFields.walk(frame) { (field, _) throws(WireError) in
            if isBodyField(field) {
                if let body {
                    throw .malformed(body == field
                        ? "the body field \(field) occurs twice in one frame (a frame carries exactly one body)"
                        : "the frame holds two bodies (fields \(body) and \(field)); a frame carries exactly one")
                }
                body = field
            } else if field == 1 {
                // A second envelope would merge into the first: its token replaces the one checked.
                envelopes += 1
                guard envelopes == 1 else { throw .malformed("the envelope (field 1) occurs twice in one frame") }
            }
            // Other fields are unknown to this version: the decoder keeps them aside and nothing reads them.
        }
        return body
    }

    /// The field numbers of `Request.body`'s members, read once from protoc-c's descriptor of
    /// `Proto/sightline.proto` (a bit per field number; the oneof uses numbers below 64).
    static let bodyFieldMask: UInt64 = {
        let descriptor = sightline__v1__request__descriptor
        var mask: UInt64 = 0
        for index in 0 ..< Int(descriptor.n_fields) {
            let field = descriptor.fields[index]
            guard field.flags & UInt32(PROTOBUF_C_FIELD_FLAG_ONEOF.rawValue) != 0 else { continue }
            precondition(field.id < 64, "a body field number at or above 64 needs a wider mask")
            mask |= 1 << UInt64(field.id)
        }
        return mask
    }()

    /// True when `field` is a member of `Request.body`.
    static func isBodyField(_ field: UInt64) -> Bool { field < 64 && bodyFieldMask & (1 << field) != 0 }
}

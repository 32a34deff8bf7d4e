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
        guard let tag = readVarint(frame, &offset) else { throw .malformed("not a Request message") }
        guard tag >> 3 == 1, tag & 7 == 2 else {
            throw .missingField("an envelope as the frame's first field (field 1)")
        }
        guard let length = readVarint(frame, &offset) else { throw .malformed("the envelope's length is cut off") }
        guard length <= UInt64(maxEnvelopeBytes) else {
            throw .malformed("an envelope of \(length) bytes (at most \(maxEnvelopeBytes))")
        }
        let end = offset + Int(length)
        guard end <= frame.count else { throw .malformed("the envelope is cut off") }
        return offset ..< end
    }

    /// The field number of the request's body (the `oneof`, fields 10 and up), found by skipping
    /// the top-level fields without unpacking anything; nil when the frame has none. Lets a server
    /// check a token's role before the body costs an unpack.
    static func bodyField(in frame: UnsafeBufferPointer<UInt8>) throws(WireError) -> UInt64? {
        var offset = 0
        while offset < frame.count {
            guard let tag = readVarint(frame, &offset) else { throw .malformed("a field tag is cut off") }
            let field = tag >> 3
            if field >= 10 { return field }
            switch tag & 7 {
            case 0: guard readVarint(frame, &offset) != nil else { throw .malformed("a varint is cut off") }
            case 1: offset += 8
            case 5: offset += 4
            case 2:
                guard let length = readVarint(frame, &offset), length <= UInt64(frame.count - min(offset, frame.count)) else {
                    throw .malformed("a field is longer than the frame")
                }
                offset += Int(length)
            default: throw .malformed("wire type \(tag & 7) is not used by this protocol")
            }
            guard offset <= frame.count else { throw .malformed("a field is cut off") }
        }
        return nil
    }

    /// A base-128 varint of at most 10 bytes, or nil when the bytes end or run longer.
    static func readVarint(_ bytes: UnsafeBufferPointer<UInt8>, _ offset: inout Int) -> UInt64? {
        var value: UInt64 = 0
        for shift in stride(from: UInt64(0), to: 70, by: 7) {
            guard offset < bytes.count else { return nil }
            let byte = bytes[offset]
            offset += 1
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return value }
        }
        return nil
    }
}

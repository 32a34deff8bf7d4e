/// The top-level fields of a protobuf message, walked without unpacking anything: each field's
/// number and byte range (tag included). Lengths are skipped, not read, so a walk costs a few
/// bytes a field whatever the fields hold. The request gate walks frames with it before a body
/// is decoded (`EnvelopePrefix.bodyField`); the fuzzer mutates frames field by field with it.
public enum ProtobufFields {
    /// Calls `visit` with each top-level field's number and byte range, in order. Throws
    /// `.malformed` when the bytes are not a sequence of well-formed fields: a tag or varint cut
    /// off, a field longer than the bytes, field number 0, or a wire type this protocol never
    /// uses (groups).
    public static func walk(_ bytes: UnsafeBufferPointer<UInt8>,
                            _ visit: (_ field: UInt64, _ range: Range<Int>) throws(WireError) -> Void) throws(WireError) {
        var offset = 0
        while offset < bytes.count {
            let start = offset
            guard let tag = readVarint(bytes, &offset) else { throw .malformed("a field tag is cut off") }
            let field = tag >> 3
            guard field != 0 else { throw .malformed("field number 0 is not valid protobuf") }
            switch tag & 7 {
            case 0: guard readVarint(bytes, &offset) != nil else { throw .malformed("a varint is cut off") }
            case 1: offset += 8
            case 5: offset += 4
            case 2:
                guard let length = readVarint(bytes, &offset), length <= UInt64(bytes.count - min(offset, bytes.count)) else {
                    throw .malformed("a field is longer than the frame")
                }
                offset += Int(length)
            default: throw .malformed("wire type \(tag & 7) is not used by this protocol")
            }
            guard offset <= bytes.count else { throw .malformed("a field is cut off") }
            try visit(field, start ..< offset)
        }
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

import Testing
@testable import Wire

/// The top-level field walk the gate and the fuzzer share: numbers and ranges of well-formed
/// fields, a refusal for anything else.
@Suite struct ProtobufFieldsTests {
    static func walk(_ bytes: [UInt8]) throws(WireError) -> [(UInt64, Range<Int>)] {
        var fields: [(UInt64, Range<Int>)] = []
        try bytes.withUnsafeBufferPointer { buffer throws(WireError) in
            try ProtobufFields.walk(buffer) { field, range in fields.append((field, range)) }
        }
        return fields
    }

    @Test func everyWireTypeIsSkippedByItsLength() throws {
        // field 1 bytes "ab", field 2 varint 300, field 3 fixed64, field 4 fixed32, field 200 varint 1
        let bytes: [UInt8] = [0x0A, 2, 0x61, 0x62, 0x10, 0xAC, 0x02, 0x19] + [UInt8](repeating: 7, count: 8)
            + [0x25, 1, 2, 3, 4, 0xC0, 0x0C, 1]
        let fields = try Self.walk(bytes)
        #expect(fields.map(\.0) == [1, 2, 3, 4, 200])
        #expect(fields.map(\.1) == [0 ..< 4, 4 ..< 7, 7 ..< 16, 16 ..< 21, 21 ..< 24])
        #expect(try Self.walk([]).isEmpty)
    }

    @Test(arguments: [
        ([0x0A, 5, 1, 2], "a field is longer than the frame"),
        ([0x10, 0x80], "a varint is cut off"),
        ([0x80], "a field tag is cut off"),
        ([0x19, 1, 2, 3], "a field is cut off"),
        ([0x02, 0], "field number 0 is not valid protobuf"),
        ([0x0B], "wire type 3 is not used by this protocol"),
        ([0x10] + [UInt8](repeating: 0xFF, count: 10) + [1], "a varint is cut off"),
    ] as [([UInt8], String)])
    func malformedFieldsAreRefusedWithTheirReason(bytes: [UInt8], reason: String) {
        #expect(throws: WireError.malformed(reason)) { try Self.walk(bytes) }
    }
}

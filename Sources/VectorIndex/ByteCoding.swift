import VectorMath

/// Little-endian writer for the index file.
struct ByteWriter {
    var bytes: [UInt8] = []

    mutating func write<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func write(_ values: [Float]) {
        // Sightline's targets are little-endian, so floats are stored as they lie in memory.
        values.withUnsafeBytes { bytes.append(contentsOf: $0) }
    }

    mutating func write(_ values: [UInt64]) {
        values.withUnsafeBytes { bytes.append(contentsOf: $0) }
    }

    mutating func write(_ values: [UInt8]) { bytes.append(contentsOf: values) }
}

/// Little-endian reader that never reads past the end: a short file is an error, not a crash.
struct ByteReader {
    let bytes: [UInt8]
    private(set) var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var remaining: Int { bytes.count - offset }

    mutating func need(_ count: Int) throws(VectorIndexError) {
        guard count >= 0, count <= remaining else {
            throw .truncatedFile(needed: offset + max(0, count), available: bytes.count)
        }
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type) throws(VectorIndexError) -> T {
        try need(MemoryLayout<T>.size)
        var value: T = 0
        withUnsafeMutableBytes(of: &value) { target in
            for i in 0 ..< MemoryLayout<T>.size { target[i] = bytes[offset + i] }
        }
        offset += MemoryLayout<T>.size
        return T(littleEndian: value)
    }

    mutating func readBytes(_ count: Int) throws(VectorIndexError) -> [UInt8] {
        try need(count)
        defer { offset += count }
        return Array(bytes[offset ..< offset + count])
    }

    mutating func readFloats(_ count: Int) throws(VectorIndexError) -> [Float] {
        guard count <= remaining / 4 else { throw .truncatedFile(needed: offset + count * 4, available: bytes.count) }
        let raw = try readBytes(count * 4)
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            raw.withUnsafeBytes { source in
                UnsafeMutableRawBufferPointer(buffer).copyMemory(from: source)
            }
            initialized = count
        }
    }

    mutating func readUInt64s(_ count: Int) throws(VectorIndexError) -> [UInt64] {
        guard count <= remaining / 8 else { throw .truncatedFile(needed: offset + count * 8, available: bytes.count) }
        let raw = try readBytes(count * 8)
        return [UInt64](unsafeUninitializedCapacity: count) { buffer, initialized in
            raw.withUnsafeBytes { source in
                UnsafeMutableRawBufferPointer(buffer).copyMemory(from: source)
            }
            initialized = count
        }
    }
}

/// A tagged section: 4-byte tag, body, CRC-32 of tag and body (the index and HNSW files).
extension ByteWriter {
    mutating func appendSection(_ tag: String, _ body: (inout ByteWriter) -> Void) {
        var section = ByteWriter()
        section.write(Array(tag.utf8))
        body(&section)
        write(section.bytes)
        write(CRC32.checksum(section.bytes))
    }
}

extension ByteReader {
    /// Reads a section written by `appendSection`: its tag must match and its checksum hold.
    mutating func readSection<T>(_ tag: String, _ body: (inout ByteReader) throws(VectorIndexError) -> T) throws(VectorIndexError) -> T {
        let start = offset
        guard try readBytes(4) == Array(tag.utf8) else { throw .corruptFile("section \(tag) missing at byte \(start)") }
        let value = try body(&self)
        let end = offset
        let stored = try read(UInt32.self)
        guard stored == bytes.withUnsafeBytes({ CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[start ..< end])) }) else {
            throw .corruptFile("section \(tag) checksum mismatch")
        }
        return value
    }
}

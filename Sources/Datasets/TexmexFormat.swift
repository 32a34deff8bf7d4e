import VectorMath

/// The texmex formats (`.fvecs`, `.ivecs`, `.bvecs`): each record is a little-endian Int32
/// dimension `d` followed by `d` components (Float32, Int32 or UInt8).
public enum TexmexFormat {
    public enum Component: Equatable {
        case float32, int32, uint8
        /// Checks the records of `component` without converting them.
        indirect case framingOnly(of: Component)
        var size: Int {
            switch self {
            case .uint8: return 1
            case .framingOnly(let inner): return inner.size
            default: return 4
            }
        }
    }

    /// Reads a `.fvecs` or `.bvecs` file as float vectors.
    public static func readVectors(_ path: String, component: Component) throws(DatasetError) -> Matrix {
        let bytes = try BinaryFile.read(path)
        let (dimension, values) = try decode(bytes, path: path, component: component)
        do { return try Matrix(dimension: dimension, values: values) } catch {
            throw .malformed(path: path, detail: error.description)
        }
    }

    /// Reads an `.ivecs` file (ground truth) as rows of Int32.
    public static func readIntegerRows(_ path: String) throws(DatasetError) -> [[Int32]] {
        let bytes = try BinaryFile.read(path)
        // Validate the framing with the shared decoder's checks, then read the integers exactly.
        let (dimension, _) = try decode(bytes, path: path, component: .framingOnly(of: .int32))
        let recordSize = 4 + 4 * dimension
        return (0 ..< bytes.count / recordSize).map { record in
            (0 ..< dimension).map { loadInt32(bytes, record * recordSize + 4 + 4 * $0) }
        }
    }

    static func decode(_ bytes: [UInt8], path: String, component: Component) throws(DatasetError) -> (Int, [Float]) {
        guard !bytes.isEmpty else { throw .empty(path) }
        guard bytes.count >= 4 else { throw .truncated(path: path, detail: "\(bytes.count) bytes, shorter than one header") }
        let dimension = Int(loadInt32(bytes, 0))
        guard dimension > 0, dimension <= 1 << 20 else {
            throw .malformed(path: path, detail: "first record claims dimension \(dimension)")
        }
        let recordSize = 4 + dimension * component.size
        // Walk the records in order so the first bad one is named: a different dimension is a
        // mixed or corrupt file, a short last record a truncated one.
        var offset = 0, count = 0
        while offset < bytes.count {
            guard bytes.count - offset >= 4 else {
                throw .truncated(path: path, detail: "record \(count) header is cut off after \(bytes.count - offset) bytes")
            }
            let d = Int(loadInt32(bytes, offset))
            guard d == dimension else { throw .inconsistentDimension(path: path, record: count, expected: dimension, got: d) }
            guard bytes.count - offset >= recordSize else {
                throw .truncated(path: path, detail: "record \(count) has \(bytes.count - offset) of \(recordSize) bytes")
            }
            offset += recordSize
            count += 1
        }
        if case .framingOnly = component { return (dimension, []) }
        var values = [Float](repeating: 0, count: count * dimension)
        bytes.withUnsafeBytes { raw in
            for record in 0 ..< count {
                let start = record * recordSize + 4
                let target = record * dimension
                switch component {
                case .float32:
                    for j in 0 ..< dimension {
                        values[target + j] = Float(bitPattern: UInt32(
                            littleEndian: raw.loadUnaligned(fromByteOffset: start + 4 * j, as: UInt32.self)))
                    }
                case .int32:
                    for j in 0 ..< dimension {
                        values[target + j] = Float(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: start + 4 * j, as: Int32.self)))
                    }
                case .uint8:
                    for j in 0 ..< dimension { values[target + j] = Float(raw[start + j]) }
                case .framingOnly:
                    break
                }
            }
        }
        return (dimension, values)
    }

    static func loadInt32(_ bytes: [UInt8], _ offset: Int) -> Int32 {
        Int32(bitPattern: UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8
                          | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24)
    }

    /// Writes float vectors as `.fvecs`.
    public static func writeVectors(_ matrix: Matrix, to path: String) throws(DatasetError) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(matrix.rowCount * (4 + matrix.dimension * 4))
        for row in 0 ..< matrix.rowCount {
            appendLittleEndian(Int32(matrix.dimension), to: &bytes)
            for value in matrix.row(row) { appendLittleEndian(value.bitPattern, to: &bytes) }
        }
        try BinaryFile.writeAtomically(bytes, to: path)
    }

    /// Writes rows of integers as `.ivecs` (every row must have the same length).
    public static func writeIntegerRows(_ rows: [[Int32]], to path: String) throws(DatasetError) {
        var bytes: [UInt8] = []
        for row in rows {
            appendLittleEndian(Int32(row.count), to: &bytes)
            for value in row { appendLittleEndian(value, to: &bytes) }
        }
        try BinaryFile.writeAtomically(bytes, to: path)
    }

    /// Writes vectors with components in 0…255 as `.bvecs` (values are rounded and clamped).
    public static func writeByteVectors(_ matrix: Matrix, to path: String) throws(DatasetError) {
        var bytes: [UInt8] = []
        for row in 0 ..< matrix.rowCount {
            appendLittleEndian(Int32(matrix.dimension), to: &bytes)
            for value in matrix.row(row) { bytes.append(UInt8(max(0, min(255, value.rounded())))) }
        }
        try BinaryFile.writeAtomically(bytes, to: path)
    }
}

func appendLittleEndian<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
    withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
}

import CZlib
import VectorMath

/// The IDX format of MNIST and Fashion-MNIST, gzip'd as Debian installs it. Images become rows
/// of `rows × columns` floats scaled to [0, 1]; labels become `Int32`.
public enum IDXFormat {
    public static func readImages(_ path: String) throws(DatasetError) -> Matrix {
        let bytes = try inflate(path)
        guard bytes.count >= 16 else { throw .truncated(path: path, detail: "header cut off") }
        guard bytes[0] == 0, bytes[1] == 0, bytes[2] == 0x08, bytes[3] == 3 else {
            throw .malformed(path: path, detail: "not an unsigned-byte image file (IDX type 0x08, 3 dimensions)")
        }
        let count = bigEndian(bytes, 4), rows = bigEndian(bytes, 8), columns = bigEndian(bytes, 12)
        // Each size is a 32-bit header field: multiply only what cannot overflow.
        guard let dimension = checkedProduct(rows, columns), let pixels = checkedProduct(count, dimension) else {
            throw .malformed(path: path, detail: "header claims \(count) images of \(rows)×\(columns): too large")
        }
        guard dimension > 0 else { throw .malformed(path: path, detail: "zero-sized images") }
        guard bytes.count - 16 == pixels else {
            throw .truncated(path: path, detail: "expected \(count) images of \(rows)×\(columns), found \(bytes.count - 16) pixel bytes")
        }
        var values = [Float](repeating: 0, count: pixels)
        for i in 0 ..< values.count { values[i] = Float(bytes[16 + i]) / 255 }
        do { return try Matrix(dimension: dimension, values: values) } catch { throw .malformed(path: path, detail: error.description) }
    }

    public static func readLabels(_ path: String) throws(DatasetError) -> [Int32] {
        let bytes = try inflate(path)
        guard bytes.count >= 8 else { throw .truncated(path: path, detail: "header cut off") }
        guard bytes[0] == 0, bytes[1] == 0, bytes[2] == 0x08, bytes[3] == 1 else {
            throw .malformed(path: path, detail: "not an unsigned-byte label file (IDX type 0x08, 1 dimension)")
        }
        let count = bigEndian(bytes, 4)
        guard bytes.count - 8 == count else {
            throw .truncated(path: path, detail: "expected \(count) labels, found \(bytes.count - 8)")
        }
        return bytes[8...].map { Int32($0) }
    }

    static func bigEndian(_ bytes: [UInt8], _ offset: Int) -> Int {
        (0 ..< 4).reduce(0) { $0 << 8 | Int(bytes[offset + $1]) }
    }

    /// Reads a gzip'd (or plain) file through zlib.
    static func inflate(_ path: String) throws(DatasetError) -> [UInt8] {
        _ = try BinaryFile.read(path)  // existence and readability, with a clear error
        guard let file = gzopen(path, "rb") else { throw .unreadable(path: path, reason: "gzopen failed") }
        defer { gzclose(file) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let read = chunk.withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32($0.count)) }
            if read < 0 {
                var code: Int32 = 0
                let message = gzerror(file, &code).map { String(cString: $0) } ?? "unknown"
                throw .truncated(path: path, detail: "gzip stream broken: \(message)")
            }
            if read == 0 { break }
            result.append(contentsOf: chunk[0 ..< Int(read)])
        }
        // gzread returns 0 at a cut-off stream too; zlib reports it through gzerror as Z_BUF_ERROR.
        var code: Int32 = 0
        _ = gzerror(file, &code)
        if code == Z_BUF_ERROR { throw .truncated(path: path, detail: "gzip stream ends early") }
        guard !result.isEmpty else { throw .empty(path) }
        return result
    }
}

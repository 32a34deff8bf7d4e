import Foundation
import VectorMath

/// NumPy `.npy` files (format versions 1, 2 and 3), two-dimensional, C order, little-endian
/// `float32` (`<f4`) or `uint8` (`|u1`) read, `float32` written.
public enum NumpyFormat {
    static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)

    public static func read(_ path: String) throws(DatasetError) -> Matrix {
        let bytes = try BinaryFile.read(path)
        guard !bytes.isEmpty else { throw .empty(path) }
        guard bytes.count >= 10, Array(bytes[0 ..< 6]) == magic else {
            throw .malformed(path: path, detail: "no NumPy magic: not an .npy file")
        }
        let major = bytes[6]
        let headerLength: Int
        let headerStart: Int
        if major == 1 {
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        } else if major == 2 || major == 3 {
            guard bytes.count >= 12 else { throw .truncated(path: path, detail: "header cut off") }
            headerLength = (0 ..< 4).reduce(0) { $0 | Int(bytes[8 + $1]) << (8 * $1) }
            headerStart = 12
        } else {
            throw .malformed(path: path, detail: "unsupported .npy version \(major)")
        }
        guard bytes.count >= headerStart + headerLength else { throw .truncated(path: path, detail: "header cut off") }
        let header = String(decoding: bytes[headerStart ..< headerStart + headerLength], as: UTF8.self)
        let descr = try field("descr", in: header, path: path)
        let fortran = try field("fortran_order", in: header, path: path)
        guard fortran.hasPrefix("False") else {
            throw .malformed(path: path, detail: "Fortran order is not supported: save with np.ascontiguousarray")
        }
        let shape = try parseShape(try field("shape", in: header, path: path), path: path)
        let elementSize: Int
        switch descr {
        case "'<f4'": elementSize = 4
        case "'|u1'", "'<u1'", "'u1'": elementSize = 1
        default: throw .malformed(path: path, detail: "dtype \(descr) is not supported: use float32 or uint8")
        }
        guard let count = checkedProduct(shape.0, shape.1), let dataBytes = checkedProduct(count, elementSize) else {
            throw .malformed(path: path, detail: "shape (\(shape.0), \(shape.1)) is too large or negative")
        }
        let dataStart = headerStart + headerLength
        guard bytes.count - dataStart == dataBytes else {
            throw .truncated(path: path,
                             detail: "expected \(dataBytes) data bytes for shape (\(shape.0), \(shape.1)), "
                                 + "found \(bytes.count - dataStart)")
        }
        guard shape.1 > 0 else { throw .malformed(path: path, detail: "zero columns") }
        guard count > 0 else { throw .empty(path) }
        var values = [Float](repeating: 0, count: count)
        bytes.withUnsafeBytes { raw in
            if elementSize == 4 {
                for i in 0 ..< count {
                    values[i] = Float(bitPattern: UInt32(
                        littleEndian: raw.loadUnaligned(fromByteOffset: dataStart + 4 * i, as: UInt32.self)))
                }
            } else {
                for i in 0 ..< count { values[i] = Float(raw[dataStart + i]) }
            }
        }
        do { return try Matrix(dimension: shape.1, values: values) } catch { throw .malformed(path: path, detail: error.description) }
    }

    public static func write(_ matrix: Matrix, to path: String) throws(DatasetError) {
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(matrix.rowCount), \(matrix.dimension)), }"
        // Pad so that the data starts on a 64-byte boundary, ending the header with a newline.
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var bytes = magic + [1, 0]
        appendLittleEndian(UInt16(header.utf8.count), to: &bytes)
        bytes += Array(header.utf8)
        matrix.withUnsafeBufferPointer { buffer in
            for value in buffer { appendLittleEndian(value.bitPattern, to: &bytes) }
        }
        try BinaryFile.writeAtomically(bytes, to: path)
    }

    static func field(_ name: String, in header: String, path: String) throws(DatasetError) -> String {
        guard let range = header.range(of: "'\(name)':") else {
            throw .malformed(path: path, detail: "header lacks '\(name)'")
        }
        return String(header[range.upperBound...].drop(while: { $0 == " " }))
            .components(separatedBy: name == "shape" ? ")" : ",").first.map { name == "shape" ? $0 + ")" : $0 } ?? ""
    }

    static func parseShape(_ text: String, path: String) throws(DatasetError) -> (Int, Int) {
        let numbers = text.trimmingCharacters(in: CharacterSet(charactersIn: "() "))
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let parsed = numbers.compactMap { Int($0) }
        guard parsed.count == numbers.count else { throw .malformed(path: path, detail: "bad shape \(text)") }
        switch parsed.count {
        case 1: return (parsed[0], 1)
        case 2: return (parsed[0], parsed[1])
        default: throw .malformed(path: path, detail: "shape \(text) is not two-dimensional")
        }
    }
}

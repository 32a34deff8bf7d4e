import Foundation
import VectorMath

/// Binary PGM (P5) grey images, 8-bit, as written by most image tools; pixels scaled to [0, 1]
/// like the IDX reader, so a PGM and the same image in an IDX file embed identically.
public enum PGMFormat {
    public static func read(_ path: String, expectedPixels: Int? = nil) throws(DatasetError) -> [Float] {
        let bytes = try BinaryFile.read(path)
        var offset = 0
        func token() throws(DatasetError) -> String {
            // Skip white space and comments.
            while offset < bytes.count {
                if bytes[offset] == UInt8(ascii: "#") {
                    while offset < bytes.count, bytes[offset] != 10 { offset += 1 }
                } else if [9, 10, 13, 32].contains(bytes[offset]) {
                    offset += 1
                } else { break }
            }
            let start = offset
            while offset < bytes.count, ![9, 10, 13, 32].contains(bytes[offset]) { offset += 1 }
            guard offset > start else { throw .truncated(path: path, detail: "header cut off") }
            return String(decoding: bytes[start ..< offset], as: UTF8.self)
        }
        guard try token() == "P5" else { throw .malformed(path: path, detail: "not a binary PGM (P5) image") }
        guard let width = Int(try token()), let height = Int(try token()), let maximum = Int(try token()),
              width > 0, height > 0, maximum > 0, maximum < 256 else {
            throw .malformed(path: path, detail: "bad PGM header: 8-bit images only")
        }
        offset += 1  // the single white-space byte after the header
        guard let pixels = checkedProduct(width, height) else {
            throw .malformed(path: path, detail: "image size \(width)×\(height) is too large")
        }
        if let expectedPixels, pixels != expectedPixels {
            throw .malformed(path: path, detail: "image is \(width)×\(height) = \(pixels) pixels; the model takes \(expectedPixels)")
        }
        guard bytes.count - offset >= pixels else {
            throw .truncated(path: path, detail: "\(bytes.count - offset) of \(pixels) pixel bytes")
        }
        return bytes[offset ..< offset + pixels].map { Float($0) / Float(maximum) }
    }

    /// Writes one image (values in [0, 1]) as an 8-bit P5 file.
    public static func write(_ pixels: [Float], width: Int, height: Int, to path: String) throws(DatasetError) {
        precondition(pixels.count == width * height, "pixel count matches the size")
        let header = Array("P5\n\(width) \(height)\n255\n".utf8)
        try BinaryFile.writeAtomically(header + pixels.map { UInt8(max(0, min(255, ($0 * 255).rounded()))) }, to: path)
    }
}

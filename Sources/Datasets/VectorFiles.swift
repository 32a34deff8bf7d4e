import Foundation
import VectorMath

/// Reads and writes a vector set by file extension.
public enum VectorFiles {
    /// `.fvecs`, `.bvecs`, `.npy`, or a gzip'd IDX image file (`…-idx3-ubyte.gz`).
    public static func read(_ path: String) throws(DatasetError) -> Matrix {
        let matrix: Matrix
        if path.hasSuffix(".fvecs") {
            matrix = try TexmexFormat.readVectors(path, component: .float32)
        } else if path.hasSuffix(".bvecs") {
            matrix = try TexmexFormat.readVectors(path, component: .uint8)
        } else if path.hasSuffix(".npy") {
            matrix = try NumpyFormat.read(path)
        } else if path.contains("idx3-ubyte") {
            matrix = try IDXFormat.readImages(path)
        } else {
            guard FileManager.default.fileExists(atPath: path) else { throw .fileNotFound(path) }
            throw .unknownFormat(path)
        }
        if let row = matrix.firstNonFiniteRow() { throw .nonFinite(path: path, row: row) }
        return matrix
    }

    /// Writes `.fvecs` or `.npy` (float32) by extension.
    public static func write(_ matrix: Matrix, to path: String) throws(DatasetError) {
        if path.hasSuffix(".fvecs") {
            try TexmexFormat.writeVectors(matrix, to: path)
        } else if path.hasSuffix(".npy") {
            try NumpyFormat.write(matrix, to: path)
        } else if path.hasSuffix(".bvecs") {
            try TexmexFormat.writeByteVectors(matrix, to: path)
        } else {
            throw .unknownFormat(path)
        }
    }

    /// Labels stored one integer per line beside a vector file (`NAME.labels`).
    public static func readLabels(_ path: String) throws(DatasetError) -> [Int32] {
        if path.contains("idx1-ubyte") { return try IDXFormat.readLabels(path) }
        let text = String(decoding: try BinaryFile.read(path), as: UTF8.self)
        var labels: [Int32] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: true).enumerated() {
            guard let value = Int32(line.trimmingCharacters(in: .whitespaces)) else {
                throw .malformed(path: path, detail: "line \(number + 1) is not an integer label")
            }
            labels.append(value)
        }
        return labels
    }

    public static func writeLabels(_ labels: [Int32], to path: String) throws(DatasetError) {
        try BinaryFile.writeAtomically(Array(labels.map { String($0) }.joined(separator: "\n").utf8) + [10], to: path)
    }
}

import Foundation
import Testing
@testable import Datasets

/// Headers whose sizes multiply past `Int`: each must be a clear error, never a trap.
@Suite struct HostileFileTests {
    static func write(_ bytes: [UInt8], _ name: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("hostile-\(getpid())-\(name)").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func idxDimensionsThatOverflowAreMalformed() throws {
        let header: [UInt8] = [0, 0, 0x08, 3] + [0xFF, 0xFF, 0xFF, 0xFF] + [0xFF, 0xFF, 0xFF, 0xFF] + [0xFF, 0xFF, 0xFF, 0xFF]
        let path = try Self.write(header + [1, 2, 3], "images-idx3-ubyte")
        #expect(throws: DatasetError.self) { try IDXFormat.readImages(path) }
    }

    @Test func npyShapesThatOverflowAreMalformed() throws {
        for shape in ["(4611686018427387904, 4)", "(-3, 4)", "(99999999999, 99999999999)"] {
            var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shape), }"
            while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
            header += "\n"
            let bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)]
                + Array(header.utf8) + [0, 0, 0, 0]
            let path = try Self.write(bytes, "shape.npy")
            #expect(throws: DatasetError.self, "shape \(shape)") { try NumpyFormat.read(path) }
        }
    }

    @Test func pgmSizesThatOverflowAreMalformed() throws {
        let path = try Self.write(Array("P5\n99999999999 99999999999\n255\n".utf8) + [0, 0, 0], "huge.pgm")
        #expect(throws: DatasetError.self) { try PGMFormat.read(path) }
    }
}

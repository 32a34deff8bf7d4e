import Testing
@testable import Quantization
@testable import VectorIndex
@testable import VectorMath

/// Index files edited by an attacker, checksums recomputed so that only the lie remains.
@Suite struct HostileIndexFileTests {
    static let trained: [UInt8] = {
        var generator = SeededGenerator(seed: 5)
        let data = try! Matrix(dimension: 8, values: (0 ..< 8 * 600).map { _ in Float(generator.nextGaussian()) })
        var training = IVFPQTraining()
        training.iterations = 3
        let index = try! IVFPQIndex.train(data, configuration: IVFPQConfiguration(dimension: 8, listCount: 8, subquantizerCount: 2),
                                          training: training)
        return IndexFile.encode(index)
    }()

    static func put(_ value: UInt64, _ width: Int, at offset: Int, in bytes: inout [UInt8]) {
        for i in 0 ..< width { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
    }

    /// The first list and the header claim `count` vectors; both checksums recomputed.
    static func claiming(_ count: UInt64) -> [UInt8] {
        var bytes = trained
        // Version 2 header: the count at byte 23, the header's CRC at 31.
        put(count, 8, at: 23, in: &bytes)
        put(UInt64(CRC32.checksum(Array(bytes[0 ..< 31]))), 4, at: 31, in: &bytes)
        let list = bytes.count - 4 - 8 * 8 - 4
        put(count, 8, at: list + 4, in: &bytes)
        put(UInt64(CRC32.checksum(Array(bytes[list ..< bytes.count - 4]))), 4, at: bytes.count - 4, in: &bytes)
        return bytes
    }

    @Test(arguments: [UInt64(1) << 63, .max, 1 << 40, 3])
    func listCountsBeyondTheFileAreErrors(count: UInt64) {
        #expect(throws: VectorIndexError.self) { try IndexFile.decode(Self.claiming(count)) }
    }

    @Test func theUntouchedFileStillDecodes() throws {
        #expect(try IndexFile.decode(Self.trained).count == 0)
        #expect(try IndexFile.decode(Self.claiming(0)).count == 0)
    }

    /// A small file may describe a large precomputed table: the limit is checked first.
    @Test func tablesAboveTheLimitAreRefused() {
        // nlist 8 × m 2 × 256 floats = 16 KiB.
        #expect(throws: VectorIndexError.self) { try IndexFile.decode(Self.trained, maxTableBytes: 8 << 10) }
        #expect((try? IndexFile.decode(Self.trained, maxTableBytes: 16 << 10)) != nil)
    }
}

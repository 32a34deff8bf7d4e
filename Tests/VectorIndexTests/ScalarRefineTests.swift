import CSIMDKernels
import Testing
@testable import Quantization
@testable import VectorIndex
@testable import VectorMath

/// Refine from 8-bit scalar codes (`--refine-codes sq8`): kernels agree bit for bit, the codes
/// stay within half a level of the vectors, and refine from them finds what refine from the
/// full vectors finds.
@Suite struct ScalarRefineTests {
    @Test func kernelsAgreeBitForBitAndMatchTheDecodedVector() throws {
        var generator = SeededGenerator(seed: 8)
        for count in [1, 7, 8, 9, 31, 64, 784, 1001] {
            let data = try Matrix(dimension: count, values: (0 ..< 4 * count).map { _ in Float(generator.nextGaussian()) * 3 })
            let scalar = try ScalarQuantizer.train(data)
            let codes = scalar.encode(data)
            let decoded = scalar.decode(codes)
            // Within half a level of every training value.
            for (index, value) in data.values.enumerated() {
                #expect(abs(decoded.values[index] - value) <= scalar.step[index % count] * 0.5001)
            }
            let query = (0 ..< count).map { _ in Float(generator.nextGaussian()) }
            for metric in [Metric.l2, .innerProduct] {
                let portable = ScalarCodeDistance(metric: metric, wide: false)
                let reference = metric.distance(query, Array(decoded.row(1)), count)
                let distance = codes.withUnsafeBufferPointer { code in
                    portable(query, code.baseAddress! + count, scalar.minimum, scalar.step, count)
                }
                #expect(abs(distance - reference) <= 1e-3 * max(1, abs(reference)), "\(metric), d \(count)")
                if sightline_cpu_has_avx2() != 0 {
                    let wide = ScalarCodeDistance(metric: metric, wide: true)
                    let wideDistance = codes.withUnsafeBufferPointer { code in
                        wide(query, code.baseAddress! + count, scalar.minimum, scalar.step, count)
                    }
                    #expect(wideDistance.bitPattern == distance.bitPattern, "\(metric), d \(count)")
                }
            }
        }
    }

    @Test(arguments: [4, 8])
    func refineFromScalarCodesMatchesRefineFromVectors(bits: Int) throws {
        var training = IVFPQTraining()
        training.iterations = 8
        func build(_ scalarCodes: Bool) throws -> IVFPQIndex {
            let configuration = IVFPQConfiguration(dimension: 32, listCount: 16, subquantizerCount: 8, storesVectors: !scalarCodes,
                                                   bitsPerCode: bits, storesScalarCodes: scalarCodes)
            var index = try IVFPQIndex.train(Fixture.base, configuration: configuration, training: training)
            try index.add(Fixture.base, ids: Fixture.ids, threads: 2)
            return index
        }
        let float = try build(false), scalar = try build(true)
        let parameters = SearchParameters(k: 10, probeCount: 8, refineFactor: 8, threads: 2)
        let a = try float.search(Fixture.queries, parameters: parameters)
        let b = try scalar.search(Fixture.queries, parameters: parameters)
        let overlap = zip(a, b).map { Set($0.map(\.id)).intersection($1.map(\.id)).count }.reduce(0, +)
        #expect(Double(overlap) / Double(10 * a.count) >= 0.97)
        // A quarter of the bytes the float copies take.
        let floatBytes = float.lists.reduce(0) { $0 + $1.vectors.count * 4 }
        let scalarBytes = scalar.lists.reduce(0) { $0 + $1.scalarCodes.count }
        #expect(scalarBytes * 4 == floatBytes)
        // Deletes, partitions and the file keep the codes with their ids.
        var pruned = scalar
        pruned.remove(Set(Fixture.ids.prefix(100)))
        try pruned.checkInvariants()
        let parts = IVFPQIndex.partition([pruned], into: 2) { Int($0 % 2) }
        #expect(try IVFPQIndex.search(Fixture.queries, in: parts, parameters: parameters)
                == pruned.search(Fixture.queries, parameters: parameters))
        let loaded = try IndexFile.decode(IndexFile.encode(pruned))
        #expect(loaded.lists == pruned.lists && loaded.scalarQuantizer == pruned.scalarQuantizer)
    }

    @Test func shapesThatCanNotWorkAreRefused() throws {
        #expect(throws: VectorIndexError.self) {
            try IVFPQConfiguration(dimension: 32, listCount: 8, subquantizerCount: 4, storesVectors: true,
                                   storesScalarCodes: true).validate()
        }
        #expect(throws: QuantizationError.self) { try ScalarQuantizer(minimum: [0, 0], step: [1, 0]) }
        #expect(throws: QuantizationError.self) { try ScalarQuantizer(minimum: [.nan], step: [1]) }
        // A file whose flags claim refine codes but that carries none is refused.
        let plain = try Fixture.trainedIndex(nlist: 8, m: 4)
        var bytes = IndexFile.encode(plain)
        bytes[9] |= 2
        let crc = CRC32.checksum(Array(bytes[0 ..< 31]))
        withUnsafeBytes(of: crc.littleEndian) { for (offset, byte) in $0.enumerated() { bytes[31 + offset] = byte } }
        #expect(throws: VectorIndexError.self) { try IndexFile.decode(bytes) }
    }
}

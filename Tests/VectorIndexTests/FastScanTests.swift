import CSIMDKernels
import Testing
@testable import Quantization
@testable import VectorIndex
@testable import VectorMath

/// 4-bit fast-scan: every kernel gives the scalar reference's answers exactly (same candidates,
/// same order, same distances), whatever the list sizes, batches and deletes.
@Suite struct FastScanTests {
    static func fourBitIndex(nlist: Int = 16, m: Int = 8, metric: Metric = .l2, storesVectors: Bool = true,
                             count: Int = 6000, dimension: Int = 32) throws -> IVFPQIndex {
        var training = IVFPQTraining()
        training.iterations = 8
        let configuration = IVFPQConfiguration(dimension: dimension, listCount: nlist, subquantizerCount: m, metric: metric,
                                               storesVectors: storesVectors, bitsPerCode: 4)
        let base = leading(Fixture.base, dimension)
        var index = try IVFPQIndex.train(base, configuration: configuration, training: training)
        try index.add(base.slice(0 ..< count), ids: Array(Fixture.ids[0 ..< count]), threads: 2)
        return index
    }

    /// The first `dimension` components of each row (24 gives odd sub-quantizer counts).
    static func leading(_ data: Matrix, _ dimension: Int) -> Matrix {
        guard dimension != data.dimension else { return data }
        let values = (0 ..< data.rowCount).flatMap { row in data.row(row).prefix(dimension) }
        return try! Matrix(dimension: dimension, values: Array(values))
    }

    static func search(_ index: IVFPQIndex, kernel: FastScan.Kernel, k: Int = 10, nprobe: Int = 4, refine: Int = 0) throws -> [[Neighbor]] {
        var parameters = SearchParameters(k: k, probeCount: nprobe, refineFactor: refine, threads: 2)
        parameters.fastScanKernel = kernel
        return try index.search(leading(Fixture.queries, index.dimension), parameters: parameters)
    }

    static var kernels: [FastScan.Kernel] { FastScan.Kernel.allCases.filter { $0 != .scalarReference && $0.isAvailable } }

    @Test(arguments: [(Metric.l2, 8, 32), (.l2, 3, 24), (.innerProduct, 4, 32), (.l2, 1, 32), (.l2, 24, 24)])
    func everyKernelEqualsTheScalarReference(metric: Metric, m: Int, dimension: Int) throws {
        // 6,000 vectors over 16 lists (and 3,001 over 8 below): no list is a multiple of 32 but by chance.
        for (nlist, count) in [(16, 6000), (8, 3001)] {
            let index = try Self.fourBitIndex(nlist: nlist, m: m, metric: metric, count: count, dimension: dimension)
            #expect(index.lists.contains { $0.count % 32 != 0 })
            for nprobe in [1, 3] {
                let reference = try Self.search(index, kernel: .scalarReference, nprobe: nprobe)
                for kernel in Self.kernels {
                    let answer = try Self.search(index, kernel: kernel, nprobe: nprobe)
                    #expect(answer == reference, "\(kernel), m \(m), nprobe \(nprobe), \(metric)")
                }
                #expect(reference.allSatisfy { $0.count == 10 })
            }
        }
    }

    @Test func growingAndDeletingKeepsThePackedCodesInStep() throws {
        let full = try Self.fourBitIndex(count: 3000)
        var grown = full.emptyCopy
        var start = 0
        // Uneven batches, so appends land in the middle of packed blocks.
        for size in [1, 31, 33, 100, 835, 2000] {
            try grown.add(Fixture.base.slice(start ..< start + size), ids: Array(Fixture.ids[start ..< start + size]))
            start += size
        }
        #expect(grown.lists == full.lists)
        for kernel in Self.kernels {
            #expect(try Self.search(grown, kernel: kernel) == Self.search(full, kernel: .scalarReference))
        }
        var pruned = full
        let removed = Set(Fixture.ids.enumerated().filter { $0.offset % 7 == 3 && $0.offset < 3000 }.map(\.element))
        #expect(pruned.remove(removed) == removed.count)
        let reference = try Self.search(pruned, kernel: .scalarReference)
        #expect(reference.allSatisfy { $0.allSatisfy { !removed.contains($0.id) } })
        for kernel in Self.kernels { #expect(try Self.search(pruned, kernel: kernel) == reference) }
        let parts = IVFPQIndex.partition([full], into: 3) { Int($0 % 3) }
        var parameters = SearchParameters(k: 10, probeCount: 4, threads: 2)
        parameters.fastScanKernel = .scalarReference
        let split = try IVFPQIndex.search(Fixture.queries, in: parts, parameters: parameters)
        for kernel in Self.kernels {
            parameters.fastScanKernel = kernel
            #expect(try IVFPQIndex.search(Fixture.queries, in: parts, parameters: parameters) == split)
        }
    }

    /// The block kernels against each other on random codes and tables: sums and masks, every
    /// threshold class (none pass, some pass, all pass).
    @Test func blockKernelsAgreeOnRandomBlocks() throws {
        try #require(sightline_cpu_has_avx2() != 0, "this CPU has no AVX2: only the portable kernel runs")
        var generator = SeededGenerator(seed: 11)
        for pairs in [1, 2, 7, 28, 64] {
            for _ in 0 ..< 20 {
                let codes = (0 ..< pairs * 32).map { _ in UInt8.random(in: 0 ... 255, using: &generator) }
                let tables = (0 ..< pairs * 32).map { _ in UInt8.random(in: 0 ... 255, using: &generator) }
                for threshold in [0, 100, pairs * 255, 65_535] {
                    var wide = [UInt16](repeating: 0, count: 32), portable = [UInt16](repeating: 0, count: 32)
                    let maskWide = sightline_fastscan_block_avx2(codes, tables, pairs, UInt16(threshold), &wide)
                    let maskPortable = sightline_fastscan_block_portable(codes, tables, pairs, UInt16(threshold), &portable)
                    #expect(wide == portable && maskWide == maskPortable, "pairs \(pairs), threshold \(threshold)")
                    // The reference sum of vector v, straight from the definition.
                    let v = Int.random(in: 0 ..< 32, using: &generator)
                    var sum = 0
                    for j in 0 ..< pairs {
                        sum += Int(tables[32 * j + Int(codes[32 * j + v] & 15)]) + Int(tables[32 * j + 16 + Int(codes[32 * j + v] >> 4)])
                    }
                    #expect(Int(portable[(v & 1) * 16 + v / 2]) == sum)
                    #expect((maskPortable >> UInt32(v)) & 1 == (sum <= threshold ? 1 : 0))
                }
            }
        }
    }

    /// The AVX2 table quantizer writes the portable one's bytes, scale and offset.
    @Test func tableQuantizersAgree() throws {
        try #require(sightline_cpu_has_avx2() != 0, "this CPU has no AVX2: only the portable quantizer runs")
        var generator = SeededGenerator(seed: 17)
        for m in [1, 3, 8, 13, 56, 64, 200] {
            for spread in [Float(0), 1e-3, 1, 1e4] {
                let terms = (0 ..< m * 16).map { _ in Float(generator.nextGaussian()) * spread }
                let query = (0 ..< m * 16).map { _ in Float(generator.nextGaussian()) * spread }
                for useTerms in [false, true] {
                    var portable = [UInt8](repeating: 0, count: m * 16), wide = portable
                    var scale = (Float(0), Float(0)), offset = (Float(0), Float(0))
                    terms.withUnsafeBufferPointer { t in
                        let pointer = useTerms ? t.baseAddress : nil
                        sightline_quantize_fastscan_sum(pointer, query, m, &portable, &scale.0, &offset.0)
                        sightline_quantize_fastscan_sum_avx2(pointer, query, m, &wide, &scale.1, &offset.1)
                    }
                    #expect(portable == wide && scale.0 == scale.1 && offset.0 == offset.1, "m \(m), spread \(spread)")
                }
            }
        }
    }

    /// The 8-bit table's distances stay within half a step per sub-quantizer of the float ADC,
    /// and refine brings 4-bit codes to the exact neighbours.
    @Test func quantizedTablesTrackTheFloatDistancesAndRefineRecovers() throws {
        let index = try Self.fourBitIndex(nlist: 16, m: 8)
        var generator = SeededGenerator(seed: 4)
        let table = (0 ..< 8 * 16).map { _ in Float(generator.nextGaussian()) * 50 }
        var quantized = FastScan.QuantizedTable(m: 8)
        table.withUnsafeBufferPointer { quantized.fill(terms: nil, query: $0.baseAddress!, m: 8) }
        for _ in 0 ..< 200 {
            let code = (0 ..< 8).map { _ in Int.random(in: 0 ..< 16, using: &generator) }
            let exact = (0 ..< 8).reduce(Float(0)) { $0 + table[$1 * 16 + code[$1]] }
            let sum = (0 ..< 8).reduce(0) { $0 + Int(quantized.entries[$1 * 16 + code[$1]]) }
            #expect(abs(quantized.distance(sum: sum, base: 0) - exact) <= 4.01 * quantized.inverseScale)
        }
        var flat = FlatIndex(dimension: 32, metric: .l2)
        try flat.add(Fixture.base, ids: Fixture.ids)
        let truth = try flat.search(Fixture.queries, k: 1)
        let refined = try Self.search(index, kernel: FastScan.Kernel.selected, k: 10, nprobe: 16, refine: 20)
        let hits = zip(truth, refined).filter { $0.0.first?.id == $0.1.first?.id }.count
        #expect(Double(hits) / Double(truth.count) >= 0.95)
    }

    @Test func fileKeepsTheCodeWidthAndRefusesCodesOutOfRange() throws {
        let index = try Self.fourBitIndex(nlist: 8, m: 4, count: 500)
        let bytes = IndexFile.encode(index)
        let loaded = try IndexFile.decode(bytes)
        #expect(loaded.configuration.bitsPerCode == 4 && loaded.lists == index.lists)
        #expect(try Self.search(loaded, kernel: .selected) == Self.search(index, kernel: .scalarReference))
        // A code byte of 16 or more names no 4-bit sub-centroid: refused, not read out of bounds.
        var hostile = index
        let list = hostile.lists.firstIndex { $0.count > 0 }!
        hostile.lists[list].codes[0] = 0x37
        #expect(throws: VectorIndexError.self) { try IndexFile.decode(IndexFile.encode(hostile)) }
        #expect(throws: VectorIndexError.self) { try index.checkCodes([1, 2, 16]) }
        // An unknown code width in the header (byte 10) is refused, the header's CRC rewritten.
        var wrongWidth = bytes
        wrongWidth[10] = 5
        let crc = CRC32.checksum(Array(wrongWidth[0 ..< 31]))
        withUnsafeBytes(of: crc.littleEndian) { for (offset, byte) in $0.enumerated() { wrongWidth[31 + offset] = byte } }
        #expect(throws: VectorIndexError.self) { try IndexFile.decode(wrongWidth) }
    }

    @Test func versionOneFilesStillLoad() throws {
        let index = try Fixture.trainedIndex(nlist: 8, m: 4, storesVectors: true)
        let old = IndexFile.encode(index, fileVersion: 1)
        #expect(old[4] == 1 && IndexFile.encode(index)[4] == 2)
        let loaded = try IndexFile.decode(old)
        #expect(loaded.configuration == index.configuration && loaded.lists == index.lists)
    }

    @Test func invalidWidthsAndShapesAreRefused() {
        #expect(throws: VectorIndexError.self) {
            try IVFPQIndex.train(Fixture.base, configuration: IVFPQConfiguration(dimension: 32, listCount: 8, subquantizerCount: 4,
                                                                                 bitsPerCode: 6))
        }
        #expect(throws: QuantizationError.self) { try ProductQuantizer.train(Fixture.base.slice(0 ..< 10), m: 4, bits: 4) }
    }
}

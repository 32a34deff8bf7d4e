import CSIMDKernels
import Testing
@testable import Quantization
@testable import VectorIndex
@testable import VectorMath

/// A batch scanned list by list answers exactly as each query scanned alone: same ids, same
/// order, same distances, over several chunks, parts, metrics, kernels and refine.
@Suite struct FastScanByListTests {
    /// 600 queries (more than two chunks of `listMajorRows`): the fixture's queries, then base rows.
    static let queries: Matrix = {
        let rows = (0 ..< 200).flatMap { Fixture.queries.row($0) } + (0 ..< 400).flatMap { Fixture.base.row($0 * 13) }
        return try! Matrix(dimension: Fixture.base.dimension, values: rows)
    }()

    static func answers(_ parts: [IVFPQIndex], queries: Matrix, kernel: FastScan.Kernel, nprobe: Int, refine: Int,
                        apart: Bool, probes: [[Probe]]? = nil) throws -> [[Neighbor]] {
        var parameters = SearchParameters(k: 10, probeCount: nprobe, refineFactor: refine, threads: 2, queriesApart: apart)
        parameters.fastScanKernel = kernel
        return try IVFPQIndex.search(FastScanTests.leading(queries, parts[0].dimension), in: parts, parameters: parameters,
                                     probes: probes)
    }

    @Test(arguments: [(Metric.l2, 8), (.l2, 3), (.innerProduct, 4)])
    func listByListAnswersAsQueryByQuery(metric: Metric, m: Int) throws {
        #expect(queriesNeedSeveralChunks)
        let dimension = m == 3 ? 24 : 32
        let index = try FastScanTests.fourBitIndex(m: m, metric: metric, dimension: dimension)
        let thirds = IVFPQIndex.partition([index], into: 3) { Int($0 % 3) }
        let kernels = FastScan.Kernel.allCases.filter(\.isAvailable)
        for parts in [[index], thirds] {
            for (nprobe, refine) in [(1, 0), (5, 0), (4, 6)] {
                // Both rank the centroids alike (32 rows a product), so their terms agree to the bit.
                let probes = try index.rankCentroids(FastScanTests.leading(Self.queries, dimension), probeCount: nprobe, threads: 2)
                let alone = try Self.answers(parts, queries: Self.queries, kernel: .scalarReference, nprobe: nprobe, refine: refine,
                                             apart: true, probes: probes)
                #expect(alone.allSatisfy { $0.count == 10 })
                for kernel in kernels {
                    let byList = try Self.answers(parts, queries: Self.queries, kernel: kernel, nprobe: nprobe, refine: refine,
                                                  apart: false)
                    let differing = zip(byList, alone).filter { $0 != $1 }.count
                    #expect(differing == 0, "\(kernel), \(parts.count) parts, nprobe \(nprobe), refine \(refine), \(metric)")
                }
            }
        }
    }

    var queriesNeedSeveralChunks: Bool { Self.queries.rowCount > 2 * IVFPQIndex.listMajorRows }

    /// Probes ranked elsewhere (the coordinator's) give the same answers; a list probed twice
    /// by one query (a peer's odd request) is scanned twice, as the query-by-query scan does.
    @Test func givenProbesAndRepeatedListsAnswerAsQueryByQuery() throws {
        let index = try FastScanTests.fourBitIndex()
        let ranked = try index.rankCentroids(FastScanTests.leading(Self.queries, index.dimension), probeCount: 4, threads: 2)
        let doubled = ranked.map { $0 + $0.prefix(2) }
        for probes in [ranked, doubled] {
            let alone = try Self.answers([index], queries: Self.queries, kernel: .scalarReference, nprobe: 4, refine: 0, apart: true,
                                         probes: probes)
            for kernel in FastScan.Kernel.allCases.filter(\.isAvailable) {
                let byList = try Self.answers([index], queries: Self.queries, kernel: kernel, nprobe: 4, refine: 0, apart: false,
                                              probes: probes)
                #expect(zip(byList, alone).filter { $0 != $1 }.isEmpty, "\(kernel), \(probes[0].count) probes a query")
            }
        }
        let own = try Self.answers([index], queries: Self.queries, kernel: FastScan.Kernel.selected, nprobe: 4,
                                   refine: 0, apart: false)
        let given = try Self.answers([index], queries: Self.queries, kernel: FastScan.Kernel.selected, nprobe: 4,
                                     refine: 0, apart: false, probes: ranked)
        #expect(zip(own, given).filter { $0 != $1 }.isEmpty)
    }

    /// The several-query block kernels give each query exactly the one-query kernel's sums and mask.
    @Test func severalQueryKernelsEqualTheOneQueryKernel() throws {
        var generator = SeededGenerator(seed: 23)
        let wide = sightline_cpu_has_avx2() != 0
        for pairs in [1, 3, 28, 32] {
            let stride = pairs * 32
            for queries in 1 ... 4 {
                let codes = (0 ..< stride).map { _ in UInt8.random(in: 0 ... 255, using: &generator) }
                let tables = (0 ..< queries * stride).map { _ in UInt8.random(in: 0 ... 255, using: &generator) }
                // Each bar is one of its query's own sums, so that masks come out mixed.
                let thresholds = (0 ..< queries).map { q in
                    var sums = [UInt16](repeating: 0, count: 32)
                    _ = sightline_fastscan_block_portable(codes, Array(tables[q * stride ..< (q + 1) * stride]), pairs, 65_535, &sums)
                    return sums[Int.random(in: 0 ..< 32, using: &generator)]
                }
                var expectedSums = [UInt16](repeating: 0, count: 32 * queries), expectedMasks = [UInt32](repeating: 0, count: queries)
                for q in 0 ..< queries {
                    var sums = [UInt16](repeating: 0, count: 32)
                    expectedMasks[q] = sightline_fastscan_block_portable(codes, Array(tables[q * stride ..< (q + 1) * stride]), pairs,
                                                                         thresholds[q], &sums)
                    expectedSums.replaceSubrange(32 * q ..< 32 * (q + 1), with: sums)
                }
                var variants: [(String, ([UInt16], [UInt32]))] = []
                var sums = [UInt16](repeating: 0, count: 32 * queries), masks = [UInt32](repeating: 0, count: queries)
                sightline_fastscan_block_queries_portable(codes, tables, stride, queries, pairs, thresholds, &sums, &masks)
                variants.append(("portable", (sums, masks)))
                if wide {
                    sums = [UInt16](repeating: 0, count: 32 * queries)
                    masks = [UInt32](repeating: 0, count: queries)
                    sightline_fastscan_block_queries_avx2(codes, tables, stride, queries, pairs, thresholds, &sums, &masks)
                    variants.append(("avx2", (sums, masks)))
                }
                for (name, (sums, masks)) in variants {
                    #expect(sums == expectedSums && masks == expectedMasks, "\(name), pairs \(pairs), queries \(queries)")
                }
                #expect(expectedMasks.allSatisfy { $0 != 0 })
            }
        }
    }

    /// A k × refine product past the bound (or past Int) is refused before anything is allocated.
    @Test func oversizedCandidateCountsAreRefused() throws {
        let index = try FastScanTests.fourBitIndex(count: 500)
        let queries = FastScanTests.leading(Fixture.queries, index.dimension)
        for refine in [Int.max / 2, IVFPQIndex.maxCandidates] {
            #expect(throws: VectorIndexError.self) {
                _ = try index.search(queries, parameters: SearchParameters(k: 10, probeCount: 2, refineFactor: refine))
            }
        }
        #expect(try index.search(queries, parameters: SearchParameters(k: 10, probeCount: 2, refineFactor: 4)).count == 200)
    }

    /// Probes from a peer that name a negative list, carry a non-finite term or outnumber the
    /// lists are refused with an error, on the 4-bit path as on any other.
    @Test func hostileGivenProbesAreRefused() throws {
        let index = try FastScanTests.fourBitIndex(count: 500)
        let queries = FastScanTests.leading(Fixture.queries, index.dimension).slice(0 ..< 3)
        let good = try index.rankCentroids(queries, probeCount: 2)
        let hostile: [[[Probe]]] = [
            good.map { [Probe(list: ListNumber(-1), centroidDistance: 0)] + $0 },
            good.map { [Probe(list: $0[0].list, centroidDistance: -.infinity)] },
            good.map { [Probe(list: $0[0].list, centroidDistance: .nan)] },
            good.map { _ in Array(repeating: Probe(list: ListNumber(0), centroidDistance: 1), count: index.listCount + 1) },
        ]
        for probes in hostile {
            #expect(throws: VectorIndexError.self) {
                _ = try IVFPQIndex.search(queries, in: [index], parameters: SearchParameters(k: 5, probeCount: 2), probes: probes)
            }
        }
        #expect(try IVFPQIndex.search(queries, in: [index], parameters: SearchParameters(k: 5, probeCount: 2), probes: good).count == 3)
    }
}

import Testing
@testable import VectorIndex
@testable import VectorMath

/// `SearchParameters.probeRatio`: each query visits the nprobe lists whose centroids are within
/// the ratio of its 4th-nearest, exactly those, in both scans and on every kernel.
@Suite struct ProbeRatioTests {
    /// The documented rule, written out again: ranked probes kept while `d ≤ ratio · d₄`.
    static func expectedProbes(_ ranked: [[Probe]], ratio: Float) -> [[Probe]] {
        ranked.map { probes in
            guard probes.count > 4 else { return probes }
            let bar = ratio * probes[3].centroidDistance
            return probes.filter { $0.centroidDistance <= bar }
        }
    }

    static func search(_ index: IVFPQIndex, nprobe: Int, ratio: Float, refine: Int = 0, kernel: FastScan.Kernel? = nil,
                       probes: [[Probe]]? = nil) throws -> [[Neighbor]] {
        var parameters = SearchParameters(k: 10, probeCount: nprobe, refineFactor: refine, threads: 2)
        parameters.probeRatio = ratio
        parameters.fastScanKernel = kernel
        return try IVFPQIndex.search(Fixture.queries, in: [index], parameters: parameters, probes: probes)
    }

    @Test func theRatioVisitsExactlyTheListsTheRuleNames() throws {
        let fourBit = try FastScanTests.fourBitIndex(nlist: 32)
        let eightBit = try Fixture.trainedIndex(nlist: 32, storesVectors: true)
        for index in [fourBit, eightBit] {
            let ranked = try index.rankCentroids(Fixture.queries, probeCount: 16, threads: 2)
            let kernels: [FastScan.Kernel?] = index.configuration.usesFastScan ? FastScan.Kernel.allCases.filter(\.isAvailable) : [nil]
            for ratio: Float in [1, 1.3, 2] {
                let kept = Self.expectedProbes(ranked, ratio: ratio)
                // The rule bites: some queries lose lists, and nobody keeps fewer than the nearest 4.
                #expect(kept.contains { $0.count < 16 } || ratio == 2, "ratio \(ratio) kept every list")
                #expect(kept.allSatisfy { $0.count >= 4 })
                for kernel in kernels {
                    for refine in [0, 4] {
                        let cut = try Self.search(index, nprobe: 16, ratio: ratio, refine: refine, kernel: kernel)
                        let given = try Self.search(index, nprobe: 16, ratio: 0, refine: refine, kernel: kernel, probes: kept)
                        #expect(zip(cut, given).allSatisfy { $0 == $1 },
                                "ratio \(ratio), refine \(refine), \(kernel.map { "\($0)" } ?? "8-bit")")
                    }
                }
            }
            // Ratio 1 keeps the nearest 4 (the fixture's centroid distances have no ties there).
            let ratioOne = try Self.search(index, nprobe: 16, ratio: 1)
            let four = try Self.search(index, nprobe: 4, ratio: 0)
            #expect(zip(ratioOne, four).allSatisfy { $0 == $1 })
            // A ratio every list passes keeps all nprobe of them.
            #expect(try Self.search(index, nprobe: 16, ratio: 1e30) == Self.search(index, nprobe: 16, ratio: 0))
        }
    }

    /// A wider ratio visits a superset of lists, so (8-bit ADC, exact float tables) each query's
    /// i-th best distance can only fall.
    @Test func aWiderRatioNeverLosesACandidate() throws {
        let index = try Fixture.trainedIndex(nlist: 32)
        var previous = try Self.search(index, nprobe: 24, ratio: 1)
        for ratio: Float in [1.2, 1.5, 3, 0] {
            let wider = try Self.search(index, nprobe: 24, ratio: ratio)
            for (narrow, wide) in zip(previous, wider) {
                #expect(wide.count >= narrow.count)
                #expect(zip(narrow, wide).allSatisfy { $1.distance <= $0.distance }, "ratio \(ratio)")
            }
            previous = wider
        }
    }

    @Test func badRatiosAreRefused() throws {
        let index = try Fixture.trainedIndex(nlist: 16)
        for ratio: Float in [0.5, -1, .nan, .infinity] {
            #expect(throws: VectorIndexError.self, "ratio \(ratio)") { try Self.search(index, nprobe: 8, ratio: ratio) }
        }
        let innerProduct = try Fixture.trainedIndex(nlist: 16, metric: .innerProduct)
        do {
            _ = try Self.search(innerProduct, nprobe: 8, ratio: 1.5)
            Issue.record("an inner-product index took a probe ratio")
        } catch {
            #expect("\(error)".contains("L2"))
        }
        #expect(try Self.search(innerProduct, nprobe: 8, ratio: 0).count == Fixture.queries.rowCount)
    }

    @Test func theCutKeepsTiesAndShortLists() {
        let probes = [0.5, 1, 1, 2, 3, 4, 4.5].enumerated().map { Probe(list: ListNumber($0.offset), centroidDistance: Float($0.element)) }
        #expect(probes.cut(atRatio: 2).map(\.list.rawValue) == [0, 1, 2, 3, 4, 5])
        #expect(probes.cut(atRatio: 1).count == 4)
        #expect(probes.cut(atRatio: 0) == probes)
        #expect(Array(probes.prefix(4)).cut(atRatio: 1) == Array(probes.prefix(4)))
    }
}

import Foundation
import Testing
@testable import Quantization
@testable import VectorIndex
@testable import VectorMath

/// OPQ and the graph over the centroids, end to end in an index.
@Suite struct RotationAndCoarseGraphTests {
    static func index(opq: Bool = false, graph: Bool = false, bits: Int = 8, nlist: Int = 64) throws -> IVFPQIndex {
        var training = IVFPQTraining()
        training.iterations = 8
        let configuration = IVFPQConfiguration(dimension: 32, listCount: nlist, subquantizerCount: 8, storesVectors: true,
                                               bitsPerCode: bits, usesOPQ: opq, coarseGraph: graph)
        var index = try IVFPQIndex.train(Fixture.base, configuration: configuration, training: training)
        try index.add(Fixture.base, ids: Fixture.ids, threads: 2)
        return index
    }

    static func recall(_ index: IVFPQIndex, nprobe: Int, refine: Int = 0) throws -> Double {
        var flat = FlatIndex(dimension: 32, metric: .l2)
        try flat.add(Fixture.base, ids: Fixture.ids)
        let truth = try flat.search(Fixture.queries, k: 10)
        let found = try index.search(Fixture.queries,
                                     parameters: SearchParameters(k: 10, probeCount: nprobe, refineFactor: refine, threads: 2))
        return Double(zip(truth, found).map { Set($0.map(\.id)).intersection($1.map(\.id)).count }.reduce(0, +)) / Double(10 * truth.count)
    }

    @Test(arguments: [8, 4])
    func opqIndexesSearchAsWellAndSurviveTheFile(bits: Int) throws {
        let plain = try Self.index(bits: bits), rotated = try Self.index(opq: true, bits: bits)
        #expect(rotated.rotation != nil && plain.rotation == nil)
        // Refine re-ranks from the full vectors: the rotation must not disturb what it finds.
        #expect(try Self.recall(rotated, nprobe: 16, refine: 8) >= Self.recall(plain, nprobe: 16, refine: 8) - 0.03)
        // Decoded residuals come back in the vectors' space: centroid + residual is near the vector.
        let list = rotated.lists.firstIndex { $0.count > 0 }!
        let decoded = rotated.decodeResiduals(Array(rotated.lists[list].codes[0 ..< 8]))
        let vector = Array(rotated.lists[list].vectors[0 ..< 32]), centroid = Array(rotated.coarseCentroids.row(list))
        let error = (0 ..< 32).reduce(Float(0)) { $0 + pow(centroid[$1] + decoded.values[$1] - vector[$1], 2) }
        let norm = (0 ..< 32).reduce(Float(0)) { $0 + pow(vector[$1] - centroid[$1], 2) }
        #expect(error < norm)
        let loaded = try IndexFile.decode(IndexFile.encode(rotated))
        #expect(loaded.rotation == rotated.rotation)
        let parameters = SearchParameters(k: 10, probeCount: 4, threads: 2)
        #expect(try loaded.search(Fixture.queries, parameters: parameters) == rotated.search(Fixture.queries, parameters: parameters))
    }

    @Test func theCoarseGraphRanksListsCloseToTheExactRanking() throws {
        let exact = try Self.index(nlist: 128), graph = try Self.index(graph: true, nlist: 128)
        let exactProbes = try exact.rankCentroids(Fixture.queries, probeCount: 8)
        let graphProbes = try graph.rankCentroids(Fixture.queries, probeCount: 8)
        let agreement = zip(exactProbes, graphProbes).map { Set($0.map(\.list)).intersection($1.map(\.list)).count }.reduce(0, +)
        #expect(Double(agreement) / Double(8 * exactProbes.count) >= 0.95)
        // Seeded: loading the codebooks rebuilds the same graph, so every process ranks alike.
        let loaded = try IndexFile.decode(IndexFile.encode(graph))
        #expect(try loaded.rankCentroids(Fixture.queries, probeCount: 8) == graphProbes)
        #expect(try Self.recall(graph, nprobe: 8, refine: 8) >= Self.recall(exact, nprobe: 8, refine: 8) - 0.03)
    }

    /// Switching the ranking on a built index gives what an index built that way gives; the codes stay.
    @Test func theRankingSwitchesOnABuiltIndex() throws {
        let exact = try Self.index(nlist: 128), graph = try Self.index(graph: true, nlist: 128)
        var switched = exact
        try switched.setCoarseGraph(true)
        #expect(switched.configuration == graph.configuration)
        #expect(try switched.rankCentroids(Fixture.queries, probeCount: 8) == graph.rankCentroids(Fixture.queries, probeCount: 8))
        try switched.setCoarseGraph(false)
        #expect(switched.configuration == exact.configuration)
        let parameters = SearchParameters(k: 10, probeCount: 8, refineFactor: 4, threads: 2)
        #expect(try switched.search(Fixture.queries, parameters: parameters) == exact.search(Fixture.queries, parameters: parameters))
    }
}

import Datasets
import Testing
@testable import Quantization
@testable import VectorIndex
@testable import VectorMath

/// A small landmarks-like set shared by the index tests.
enum Fixture {
    static let generator: SyntheticLandmarks = {
        var generator = SyntheticLandmarks()
        generator.dimension = 32
        generator.classCount = 300
        generator.seed = 5
        return generator
    }()
    static let base = generator.generate(.index, range: 0 ..< 6000).vectors
    static let queries = generator.generate(.query, range: 0 ..< 200).vectors
    static let ids = (0 ..< 6000).map { VectorID(UInt64($0) * 3 + 1) }

    static func trainedIndex(nlist: Int = 32, m: Int = 8, metric: Metric = .l2, storesVectors: Bool = false) throws -> IVFPQIndex {
        var training = IVFPQTraining()
        training.iterations = 10
        var index = try IVFPQIndex.train(
            base, configuration: IVFPQConfiguration(dimension: 32, listCount: nlist, subquantizerCount: m, metric: metric,
                                                    storesVectors: storesVectors),
            training: training)
        try index.add(base, ids: ids, threads: 2)
        return index
    }
}

@Suite struct IVFPQTests {
    @Test(arguments: [Metric.l2, .innerProduct])
    func exhaustiveProbeWithExhaustiveRefineEqualsFlatSearch(metric: Metric) throws {
        let index = try Fixture.trainedIndex(nlist: 16, metric: metric, storesVectors: true)
        try index.checkInvariants()
        var flat = FlatIndex(dimension: 32, metric: metric)
        try flat.add(Fixture.base, ids: Fixture.ids)
        let exact = try flat.search(Fixture.queries, k: 10)
        let parameters = SearchParameters(k: 10, probeCount: 16, refineFactor: 600, threads: 2)
        let approximate = try index.search(Fixture.queries, parameters: parameters)
        #expect(approximate == exact)
    }

    /// With `queriesApart` a batch's answers are, bit for bit, each query's answer searched alone
    /// (the micro-batching window relies on it), for the ranking and for the search.
    @Test(arguments: [0, 4])
    func queriesApartAnswerAsIfAlone(refine: Int) throws {
        let index = try Fixture.trainedIndex(nlist: 32, storesVectors: true)
        let parameters = SearchParameters(k: 10, probeCount: 6, refineFactor: refine, threads: 2, queriesApart: true)
        let batch = try index.search(Fixture.queries, parameters: parameters)
        let ranked = try index.rankCentroids(Fixture.queries, probeCount: 6, queriesApart: true)
        for row in 0 ..< Fixture.queries.rowCount {
            let alone = Fixture.queries.slice(row ..< row + 1)
            #expect(batch[row] == (try index.search(alone, parameters: SearchParameters(k: 10, probeCount: 6, refineFactor: refine)))[0])
            #expect(ranked[row] == (try index.rankCentroids(alone, probeCount: 6))[0])
        }
    }

    @Test func recallOnSyntheticSetIsAboveFloor() throws {
        let index = try Fixture.trainedIndex()
        var flat = FlatIndex(dimension: 32)
        try flat.add(Fixture.base, ids: Fixture.ids)
        let truth = try flat.search(Fixture.queries, k: 10).map { $0.map(\.id) }
        let results = try index.search(Fixture.queries, parameters: SearchParameters(k: 10, probeCount: 8)).map { $0.map(\.id) }
        let recall = kRecall(results, truth)
        // Measured 0.827 with seed 5 (nlist 32, m 8, nprobe 8); 0.841 at nprobe 32.
        #expect(recall > 0.75)
        let wider = try index.search(Fixture.queries, parameters: SearchParameters(k: 10, probeCount: 32)).map { $0.map(\.id) }
        #expect(kRecall(wider, truth) >= recall)
    }

    func kRecall(_ results: [[VectorID]], _ truth: [[VectorID]]) -> Double {
        var hits = 0
        for (r, t) in zip(results, truth) { hits += Set(r).intersection(t).count }
        return Double(hits) / Double(results.count * 10)
    }

    @Test func adcDistancesEqualDistancesToDecodedVectors() throws {
        let index = try Fixture.trainedIndex()
        let results = try index.search(Fixture.queries.slice(0 ..< 5), parameters: SearchParameters(k: 5, probeCount: 4))
        // Rebuild each result's reconstruction: centroid + decoded residual.
        var location: [UInt64: (Int, Int)] = [:]
        for (number, list) in index.lists.enumerated() { for (position, id) in list.ids.enumerated() { location[id] = (number, position) } }
        for (q, row) in results.enumerated() {
            for neighbor in row {
                let (list, position) = location[neighbor.id.rawValue]!
                let code = Array(index.lists[list].codes[position * 8 ..< (position + 1) * 8])
                let residual = index.quantizer.decode(code)
                let reconstruction = zip(index.coarseCentroids.row(list), residual.values).map { $0 + $1 }
                let query = Array(Fixture.queries.row(q))
                let exact = zip(query, reconstruction).reduce(Float(0)) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
                #expect(abs(neighbor.distance - exact) < 1e-4)
            }
        }
    }

    @Test func searchIsDeterministicAcrossThreadCounts() throws {
        let index = try Fixture.trainedIndex()
        let one = try index.search(Fixture.queries, parameters: SearchParameters(k: 10, probeCount: 4, threads: 1))
        let four = try index.search(Fixture.queries, parameters: SearchParameters(k: 10, probeCount: 4, threads: 4))
        #expect(one == four)
    }

    @Test func removeDropsExactlyTheGivenIds() throws {
        var index = try Fixture.trainedIndex()
        let doomed = Set(Fixture.ids.prefix(100))
        #expect(index.remove(doomed) == 100)
        #expect(index.count == 5900)
        try index.checkInvariants()
        let results = try index.search(Fixture.base.slice(0 ..< 100), parameters: SearchParameters(k: 10, probeCount: 32))
        #expect(results.allSatisfy { row in row.allSatisfy { !doomed.contains($0.id) } })
    }

    @Test func memoryPerVectorIsCodePlusId() throws {
        var index = try Fixture.trainedIndex(m: 8)
        index.compact()
        let usage = index.memoryUsage
        let perVector = Double(usage.perVectorBytes) / Double(index.count)
        #expect(perVector <= Double(8 + 8) * 1.05)
    }

    @Test func badInputsAreTypedErrors() throws {
        var index = try Fixture.trainedIndex()
        let wrong = Matrix(zeros: 3, dimension: 16)
        #expect(throws: VectorIndexError.dimensionMismatch(expected: 32, got: 16)) {
            try index.search(wrong, parameters: SearchParameters())
        }
        #expect(throws: VectorIndexError.dimensionMismatch(expected: 32, got: 16)) {
            try index.add(wrong, ids: [1, 2, 3].map { VectorID($0) })
        }
        var nan = Fixture.queries.slice(0 ..< 2)
        nan.setRow(1, [Float](repeating: .infinity, count: 32))
        #expect(throws: VectorIndexError.nonFinite(what: "query", row: 1)) { try index.search(nan, parameters: SearchParameters()) }
        #expect(throws: VectorIndexError.invalidK(k: 0, available: 6000)) {
            try index.search(Fixture.queries, parameters: SearchParameters(k: 0))
        }
        #expect(throws: VectorIndexError.invalidK(k: 6001, available: 6000)) {
            try index.search(Fixture.queries, parameters: SearchParameters(k: 6001))
        }
        #expect(throws: VectorIndexError.invalidProbeCount(nprobe: 33, nlist: 32)) {
            try index.search(Fixture.queries, parameters: SearchParameters(probeCount: 33))
        }
        #expect(throws: VectorIndexError.refineNeedsVectors) {
            try index.search(Fixture.queries, parameters: SearchParameters(refineFactor: 4))
        }
        #expect(throws: VectorIndexError.duplicateID(VectorID(7))) {
            try index.add(Fixture.base.slice(0 ..< 2), ids: [VectorID(7), VectorID(7)])
        }
        #expect(index.count == 6000)
    }

    @Test func trainingRejectsBadShapes() {
        let configuration = IVFPQConfiguration(dimension: 32, listCount: 8, subquantizerCount: 5)
        #expect(throws: VectorIndexError.quantization(.subquantizerCountDoesNotDivide(dimension: 32, m: 5))) {
            try IVFPQIndex.train(Fixture.base, configuration: configuration)
        }
        let tooMany = IVFPQConfiguration(dimension: 32, listCount: 7000, subquantizerCount: 8)
        #expect(throws: VectorIndexError.quantization(.tooFewTrainingVectors(needed: 7000, got: 6000,
                                                                             what: "nlist = 7000 coarse centroids"))) {
            try IVFPQIndex.train(Fixture.base, configuration: tooMany)
        }
    }
}

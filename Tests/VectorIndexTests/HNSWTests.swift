import Testing
@testable import VectorIndex
@testable import VectorMath

/// The HNSW graph: recall above a stated floor against exact search, the same answers for the
/// same seed, deleted vectors never returned, and bad input refused by name.
@Suite struct HNSWTests {
    static func built(metric: Metric = .l2, seed: UInt64 = 7) throws -> HNSWIndex {
        var index = try HNSWIndex(dimension: 32, metric: metric, neighborsPerNode: 16, efConstruction: 40, seed: seed)
        try index.add(Fixture.base, ids: Fixture.ids)
        return index
    }

    static func recall(_ got: [[Neighbor]], _ exact: [[Neighbor]]) -> Double {
        let hits = zip(got, exact).reduce(0) { total, pair in total + Set(pair.0.map(\.id)).intersection(pair.1.map(\.id)).count }
        return Double(hits) / Double(exact.reduce(0) { $0 + $1.count })
    }

    @Test(arguments: [Metric.l2, .innerProduct])
    func recallIsAboveTheFloorAndGrowsWithEf(metric: Metric) throws {
        let index = try Self.built(metric: metric)
        var flat = FlatIndex(dimension: 32, metric: metric)
        try flat.add(Fixture.base, ids: Fixture.ids)
        let exact = try flat.search(Fixture.queries, k: 10)
        let low = Self.recall(try index.search(Fixture.queries, k: 10, efSearch: 10), exact)
        let high = Self.recall(try index.search(Fixture.queries, k: 10, efSearch: 128, threads: 2), exact)
        #expect(high >= 0.95, "10-recall@10 at efSearch 128: \(high)")
        #expect(high >= low, "efSearch 128 \(high) < efSearch 10 \(low)")
        // Distances are exact (full vectors): each returned pair matches the flat index's distance.
        let answers = try index.search(Fixture.queries, k: 10, efSearch: 128)
        for (row, answer) in answers.enumerated() {
            #expect(answer == answer.sorted())
            let truth = Dictionary(uniqueKeysWithValues: exact[row].map { ($0.id, $0.distance) })
            for hit in answer { if let distance = truth[hit.id] { #expect(abs(distance - hit.distance) <= 1e-4 * max(1, abs(distance))) } }
        }
    }

    @Test func theSameSeedBuildsTheSameGraph() throws {
        let first = try Self.built(seed: 11), second = try Self.built(seed: 11)
        #expect(first.levels == second.levels && first.layer0 == second.layer0 && first.upper == second.upper)
        #expect(try first.search(Fixture.queries, k: 10, efSearch: 32) == (try second.search(Fixture.queries, k: 10, efSearch: 32, threads: 2)))
        // About 1/M of the nodes climb to layer 1.
        let climbed = Double(first.levels.filter { $0 >= 1 }.count) / Double(first.nodeCount)
        #expect(climbed > 0.03 && climbed < 0.1, "\(climbed)")
    }

    @Test func deletedVectorsAreNeverReturned() throws {
        var index = try Self.built()
        let before = try index.search(Fixture.queries, k: 5, efSearch: 64)
        let gone = Set(before.map { $0[0].id })
        #expect(index.remove(Array(gone)) == gone.count)
        #expect(index.remove(Array(gone)) == 0)
        #expect(index.count == Fixture.base.rowCount - gone.count)
        let after = try index.search(Fixture.queries, k: 5, efSearch: 64)
        #expect(after.allSatisfy { $0.count == 5 && $0.allSatisfy { !gone.contains($0.id) } })
    }

    @Test func badInputIsRefusedByName() throws {
        var index = try Self.built()
        #expect(throws: VectorIndexError.dimensionMismatch(expected: 32, got: 8)) {
            try index.search(Matrix(zeros: 1, dimension: 8), k: 1, efSearch: 8)
        }
        var values = [Float](repeating: 0, count: 32)
        values[3] = .nan
        let nan = try Matrix(dimension: 32, values: values)
        #expect(throws: VectorIndexError.nonFinite(what: "query", row: 0)) { try index.search(nan, k: 1, efSearch: 8) }
        #expect(throws: VectorIndexError.nonFinite(what: "input", row: 0)) { try index.add(nan, ids: [VectorID(1 << 40)]) }
        #expect(throws: VectorIndexError.duplicateID(Fixture.ids[0])) {
            try index.add(Fixture.base.slice(0 ..< 1), ids: [Fixture.ids[0]])
        }
        #expect(throws: VectorIndexError.self) { try index.search(Fixture.queries, k: 0, efSearch: 8) }
        #expect(throws: VectorIndexError.self) { try index.search(Fixture.queries, k: 1, efSearch: 0) }
        #expect(throws: VectorIndexError.self) { try HNSWIndex(dimension: 32, neighborsPerNode: 1) }
        #expect(throws: VectorIndexError.emptyIndex) { try HNSWIndex(dimension: 4).search(Matrix(zeros: 1, dimension: 4), k: 1, efSearch: 4) }
    }
}

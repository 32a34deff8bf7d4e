import Testing
@testable import VectorIndex
@testable import VectorMath

@Suite struct RangeSearchTests {
    /// The radius that holds about the 5 nearest neighbours of the first query.
    static func radius() throws -> Float {
        let exact = try exactSearch(queries: Fixture.queries.slice(0 ..< 1), base: Fixture.base, k: 5, metric: .l2)
        return exact[0].last!.distance
    }

    @Test func allListsAndAWideScreenGiveExactlyTheBruteForceAnswer() throws {
        let index = try Fixture.trainedIndex(nlist: 16, storesVectors: true)
        let radius = try Self.radius()
        let found = try index.rangeSearch(
            Fixture.queries,
            parameters: RangeSearchParameters(radius: radius, candidateRadius: .infinity, probeCount: 16, threads: 2))
        for (row, neighbours) in found.enumerated() {
            let query = Array(Fixture.queries.row(row))
            let expected = (0 ..< Fixture.base.rowCount).compactMap { j -> Neighbor? in
                let distance = Metric.l2.distance(query, Array(Fixture.base.row(j)), 32)
                return distance <= radius ? Neighbor(distance: distance, id: Fixture.ids[j]) : nil
            }.sorted()
            #expect(neighbours == expected, "query \(row)")
        }
    }

    @Test func theEstimatedScreenKeepsNearlyEverythingAndNothingFalse() throws {
        let index = try Fixture.trainedIndex(nlist: 16, storesVectors: true)
        let radius = try Self.radius()
        let screen = index.candidateRadius(for: radius)
        #expect(screen > radius)
        let wide = try index.rangeSearch(
            Fixture.queries, parameters: RangeSearchParameters(radius: radius, candidateRadius: .infinity, probeCount: 16))
        let screened = try index.rangeSearch(
            Fixture.queries, parameters: RangeSearchParameters(radius: radius, candidateRadius: screen, probeCount: 16))
        let total = wide.reduce(0) { $0 + $1.count }, kept = screened.reduce(0) { $0 + $1.count }
        #expect(total > 0)
        #expect(Double(kept) >= 0.97 * Double(total), "\(kept) of \(total)")
        for (some, all) in zip(screened, wide) { #expect(Set(some).isSubset(of: Set(all))) }
        // The plain radius as the screen loses neighbours: the widening is what buys recall.
        let tight = try index.rangeSearch(
            Fixture.queries, parameters: RangeSearchParameters(radius: radius, candidateRadius: radius, probeCount: 16))
        #expect(tight.reduce(0) { $0 + $1.count } < kept)
    }

    @Test func badRangeRequestsAreErrors() throws {
        let withoutVectors = try Fixture.trainedIndex(nlist: 8)
        #expect(throws: VectorIndexError.refineNeedsVectors) {
            try withoutVectors.rangeSearch(Fixture.queries, parameters: RangeSearchParameters(radius: 1, candidateRadius: 2, probeCount: 1))
        }
        let index = try Fixture.trainedIndex(nlist: 8, storesVectors: true)
        for parameters in [RangeSearchParameters(radius: -1, candidateRadius: 2, probeCount: 1),
                           RangeSearchParameters(radius: .nan, candidateRadius: 2, probeCount: 1),
                           RangeSearchParameters(radius: 2, candidateRadius: 1, probeCount: 1),
                           RangeSearchParameters(radius: 1, candidateRadius: 2, probeCount: 9)] {
            #expect(throws: VectorIndexError.self) { try index.rangeSearch(Fixture.queries, parameters: parameters) }
        }
        #expect(throws: VectorIndexError.self) {
            try index.rangeSearch(Matrix(zeros: 1, dimension: 31),
                                  parameters: RangeSearchParameters(radius: 1, candidateRadius: 2, probeCount: 1))
        }
    }
}

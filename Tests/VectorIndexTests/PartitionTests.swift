import Testing
@testable import VectorIndex
@testable import VectorMath

/// A shard's index split into parts (as a worker does during a move) must answer as the whole.
@Suite struct PartitionTests {
    @Test(arguments: [(false, 0), (true, 4)])
    func partsSearchedTogetherAnswerAsTheWholeIndex(storesVectors: Bool, refine: Int) throws {
        let whole = try Fixture.trainedIndex(storesVectors: storesVectors)
        let parameters = SearchParameters(k: 20, probeCount: 6, refineFactor: refine, threads: 2)
        let expected = try whole.search(Fixture.queries, parameters: parameters)
        for seed in [UInt64(1), 7, 99] {
            // Ids spread over three parts by a hash; a fourth part takes the ids left out.
            let parts = IVFPQIndex.partition([whole], into: 3) { Int(truncatingIfNeeded: ($0 &* 0x9E37_79B9_7F4A_7C15 &+ seed) >> 62) % 3 }
            #expect(parts.map(\.count).reduce(0, +) == whole.count && parts.allSatisfy { $0.count > 0 })
            for part in parts { try part.checkInvariants() }
            #expect(try IVFPQIndex.search(Fixture.queries, in: parts, parameters: parameters) == expected)
            // Partitioning the parts again (several sources into fresh parts) loses and repeats nothing.
            let again = IVFPQIndex.partition(parts, into: 2) { $0 % 2 == 0 ? 0 : 1 }
            #expect(try IVFPQIndex.search(Fixture.queries, in: again, parameters: parameters) == expected)
            // A part left out is not searched, and its ids do not appear.
            let dropped = IVFPQIndex.partition([whole], into: 1) { $0 % 3 == 0 ? nil : 0 }
            #expect(dropped[0].count == Fixture.ids.filter { $0.rawValue % 3 != 0 }.count)
            let partial = try IVFPQIndex.search(Fixture.queries, in: dropped, parameters: SearchParameters(k: 20, probeCount: 6))
            #expect(partial.allSatisfy { $0.allSatisfy { $0.id.rawValue % 3 != 0 } })
        }
    }

    /// Centroids ranked once (as the coordinator does for every shard) give the answer a search
    /// that ranks them itself gives, bit for bit, over whole indexes and parts alike.
    @Test func searchesGivenTheRankingAnswerAsSearchesThatRank() throws {
        let whole = try Fixture.trainedIndex(storesVectors: true)
        for parameters in [SearchParameters(k: 10, probeCount: 4), SearchParameters(k: 20, probeCount: 9, refineFactor: 3, threads: 2)] {
            let ranked = try whole.rankCentroids(Fixture.queries, probeCount: parameters.probeCount, threads: 2)
            #expect(ranked.count == Fixture.queries.rowCount && ranked.allSatisfy { $0.count == parameters.probeCount })
            let expected = try whole.search(Fixture.queries, parameters: parameters)
            #expect(try IVFPQIndex.search(Fixture.queries, in: [whole], parameters: parameters, probes: ranked) == expected)
            let parts = IVFPQIndex.partition([whole], into: 2) { Int($0 % 2) }
            #expect(try IVFPQIndex.search(Fixture.queries, in: parts, parameters: parameters, probes: ranked) == expected)
        }
        let wrong = [[Probe(list: ListNumber(whole.listCount), centroidDistance: 0)]]
        #expect(throws: VectorIndexError.self) {
            try IVFPQIndex.search(Fixture.queries.slice(0 ..< 1), in: [whole], parameters: SearchParameters(k: 1, probeCount: 1),
                                  probes: wrong)
        }
    }

    @Test func partsOfAnotherShapeAreRefused() throws {
        let a = try Fixture.trainedIndex()
        let b = try Fixture.trainedIndex(nlist: 16)
        #expect(throws: VectorIndexError.self) {
            try IVFPQIndex.search(Fixture.queries, in: [a, b], parameters: SearchParameters(k: 5, probeCount: 4))
        }
        #expect(throws: VectorIndexError.self) {
            try IVFPQIndex.search(Fixture.queries, in: [], parameters: SearchParameters(k: 5, probeCount: 4))
        }
        #expect(throws: VectorIndexError.self) {
            try IVFPQIndex.search(Fixture.queries, in: [a.emptyCopy, a.emptyCopy], parameters: SearchParameters(k: 5, probeCount: 4))
        }
    }
}

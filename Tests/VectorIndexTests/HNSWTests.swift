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
        #expect(try first.search(Fixture.queries, k: 10, efSearch: 32)
                == (try second.search(Fixture.queries, k: 10, efSearch: 32, threads: 2)))
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
        #expect(throws: VectorIndexError.emptyIndex) {
            try HNSWIndex(dimension: 4).search(Matrix(zeros: 1, dimension: 4), k: 1, efSearch: 4)
        }
    }
}

/// The HNSW file: a loaded graph answers exactly as the saved one; a damaged file is refused by
/// name, never trusted, never a crash.
@Suite struct HNSWFileTests {
    static let small: HNSWIndex = {
        var index = try! HNSWIndex(dimension: 32, neighborsPerNode: 8, efConstruction: 20, seed: 5)
        try! index.add(Fixture.base.slice(0 ..< 800), ids: Array(Fixture.ids[0 ..< 800]))
        index.remove([Fixture.ids[3]])
        return index
    }()

    @Test func aLoadedGraphAnswersAsTheSavedOne() throws {
        let bytes = HNSWFile.encode(Self.small)
        var loaded = try HNSWFile.decode(bytes)
        #expect(try loaded.search(Fixture.queries, k: 10, efSearch: 32) == (try Self.small.search(Fixture.queries, k: 10, efSearch: 32)))
        #expect(loaded.count == Self.small.count && loaded.remove([Fixture.ids[3]]) == 0)
        // It keeps growing: the next vectors are found.
        try loaded.add(Fixture.base.slice(800 ..< 900), ids: Array(Fixture.ids[800 ..< 900]))
        let found = try loaded.search(Fixture.base.slice(850 ..< 851), k: 1, efSearch: 64)
        #expect(found[0][0].id == Fixture.ids[850])
        #expect(HNSWFile.encode(try HNSWFile.decode(HNSWFile.encode(loaded))) == HNSWFile.encode(loaded))
    }

    @Test func damagedFilesAreRefused() throws {
        let bytes = HNSWFile.encode(Self.small)
        for length in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 97)) {
            #expect(throws: VectorIndexError.self) { try HNSWFile.decode(Array(bytes.prefix(length))) }
        }
        var generator = SeededGenerator(seed: 8)
        for _ in 0 ..< 100 {
            var flipped = bytes
            flipped[Int(generator.next() % UInt64(bytes.count))] ^= UInt8(1 + generator.next() % 255)
            #expect(throws: VectorIndexError.self) { try HNSWFile.decode(flipped) }
        }
        #expect(throws: VectorIndexError.self) { try HNSWFile.decode(IndexFile.encode(try Fixture.trainedIndex())) }
    }

    @Test func aLinkToNoNodeIsRefusedEvenWithGoodChecksums() throws {
        var broken = Self.small
        broken.layer0[0] = UInt32(broken.nodeCount + 5)
        broken.layer0Counts[0] = max(1, broken.layer0Counts[0])
        #expect(throws: VectorIndexError.corruptFile("node 0 links to a node that does not exist")) {
            try HNSWFile.decode(HNSWFile.encode(broken))
        }
        var duplicate = Self.small
        duplicate.ids[1] = duplicate.ids[0]
        #expect(throws: VectorIndexError.self) { try HNSWFile.decode(HNSWFile.encode(duplicate)) }
    }
}

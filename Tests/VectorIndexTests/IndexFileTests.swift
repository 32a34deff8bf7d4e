import Testing
@testable import VectorIndex
@testable import VectorMath

@Suite struct IndexFileTests {
    @Test(arguments: [false, true])
    func roundTripsBitExactly(storesVectors: Bool) throws {
        let index = try Fixture.trainedIndex(nlist: 8, storesVectors: storesVectors)
        let bytes = IndexFile.encode(index)
        let loaded = try IndexFile.decode(bytes)
        #expect(IndexFile.encode(loaded) == bytes)
        #expect(loaded.lists == index.lists)
        #expect(loaded.coarseCentroids == index.coarseCentroids)
        #expect(loaded.quantizer == index.quantizer)
        let parameters = SearchParameters(k: 5, probeCount: 3)
        #expect(try loaded.search(Fixture.queries, parameters: parameters) == index.search(Fixture.queries, parameters: parameters))
    }

    @Test func truncatedFilesAreReportedAtEveryCut() throws {
        let bytes = IndexFile.encode(try Fixture.trainedIndex(nlist: 4, m: 4))
        for cut in [0, 3, 10, 30, bytes.count / 2, bytes.count - 1] {
            #expect(throws: VectorIndexError.self) { try IndexFile.decode(Array(bytes[0 ..< cut])) }
        }
    }

    @Test func flippedBytesAreCaughtByChecksums() throws {
        let bytes = IndexFile.encode(try Fixture.trainedIndex(nlist: 4, m: 4))
        var generator = SeededGenerator(seed: 1)
        for _ in 0 ..< 20 {
            var corrupt = bytes
            let position = generator.nextInt(below: bytes.count)
            corrupt[position] ^= 0x5A
            #expect(throws: VectorIndexError.self) { try IndexFile.decode(corrupt) }
        }
        #expect(throws: VectorIndexError.corruptFile("it does not start with \"SLIX\": this is not a Sightline index file")) {
            try IndexFile.decode(Array("hello world, not an index".utf8))
        }
    }
}

import Testing
@testable import VectorMath

@Suite struct TopKTests {
    @Test(arguments: [1, 3, 10, 50])
    func keepsTheBestKInOrderWithTiesById(k: Int) {
        var generator = SeededGenerator(seed: 9)
        // Few distinct distances, so ties are frequent.
        let candidates = (0 ..< 500).map { _ in
            Neighbor(distance: Float(generator.nextInt(below: 20)), id: VectorID(UInt64(generator.nextInt(below: 100_000))))
        }
        var heap = TopK(k: k)
        for candidate in candidates { heap.insert(candidate) }
        #expect(heap.sorted() == Array(candidates.sorted().prefix(k)))
    }

    @Test func mergeEqualsSortingTheUnion() {
        var generator = SeededGenerator(seed: 3)
        var lists: [[Neighbor]] = []
        var next: UInt64 = 0
        for _ in 0 ..< 4 {
            let list = (0 ..< 30).map { _ -> Neighbor in
                next += 1
                return Neighbor(distance: Float(generator.nextInt(below: 10)), id: VectorID(next))
            }.sorted()
            lists.append(list)
        }
        #expect(mergeTopK(lists, k: 10) == Array(lists.joined().sorted().prefix(10)))
    }

    @Test func mergeKeepsOneCopyOfADuplicatedId() {
        let a = [Neighbor(distance: 1, id: VectorID(5)), Neighbor(distance: 2, id: VectorID(6))]
        let b = [Neighbor(distance: 1, id: VectorID(5)), Neighbor(distance: 3, id: VectorID(7))]
        #expect(mergeTopK([a, b], k: 3).map(\.id.rawValue) == [5, 6, 7])
    }
}

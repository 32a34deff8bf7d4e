import CSIMDKernels
import Testing
@testable import VectorMath

/// The candidate pool keeps exactly what the heap keeps, whatever the order, ties and size.
@Suite struct CandidatePoolTests {
    @Test(arguments: [1, 2, 3, 10, 64, 499, 500, 800])
    func keepsTheSameSetAsTheHeapWithPayloads(k: Int) {
        var generator = SeededGenerator(seed: UInt64(k))
        for distinctDistances in [3, 50, 1_000_000] {
            // Ids repeat too (an id added twice is two entries); payloads tell them apart.
            let candidates = (0 ..< 500).map { position in
                (Float(generator.nextInt(below: distinctDistances)), UInt64(generator.nextInt(below: 400)), UInt64(position))
            }
            var heap = TopK(k: k), pool = CandidatePool(k: k)
            for (distance, id, payload) in candidates {
                heap.insert(distance: distance, id: id, payload: payload)
                // The scans skip what the bar excludes: so does this stream.
                if distance <= pool.worstDistance { pool.insert(distance: distance, id: id, payload: payload) }
            }
            let expected = heap.sortedWithPayloads(), found = pool.sortedWithPayloads()
            #expect(found.map(\.neighbor) == expected.map(\.neighbor), "k \(k), \(distinctDistances) distances")
            #expect(pool.sorted() == Array(candidates.map { Neighbor(distance: $0.0, id: VectorID($0.1)) }.sorted().prefix(k)))
            // Payloads travel with their entries: each kept entry is one of the offered ones.
            let offered = Set(candidates.map { "\($0.0) \($0.1) \($0.2)" })
            #expect(found.allSatisfy { offered.contains("\($0.neighbor.distance) \($0.neighbor.id.rawValue) \($0.payload)") })
        }
    }

    @Test func selectionPutsTheRankedEntryInPlace() {
        var generator = SeededGenerator(seed: 21)
        for count in [1, 2, 3, 17, 200] {
            var entries = (0 ..< count).map { _ in
                CandidatePool.Entry(distance: Float(generator.nextInt(below: 7)), id: UInt64(generator.nextInt(below: 50)), payload: 0)
            }
            let rank = generator.nextInt(below: count)
            let sorted = entries.sorted { $0.isBetter(than: $1) }
            entries.withUnsafeMutableBufferPointer { CandidatePool.select($0, rank: rank) }
            #expect(entries[rank].distance == sorted[rank].distance && entries[rank].id == sorted[rank].id)
            #expect(entries[..<rank].allSatisfy { !entries[rank].isBetter(than: $0) })
            #expect(entries[(rank + 1)...].allSatisfy { !$0.isBetter(than: entries[rank]) })
        }
    }

    /// The branchless quickselect behind the pool's bar returns the ranked value of a sort.
    @Test func rankSelectionMatchesASort() {
        var generator = SeededGenerator(seed: 5)
        for count in [1, 2, 3, 17, 320, 1000] {
            for distinct in [1, 4, 1_000_000] {
                let values = (0 ..< count).map { _ in Float(generator.nextInt(below: distinct)) - 2 }
                let sorted = values.sorted()
                for rank in Set([0, count / 2, count - 1]) {
                    var copy = values
                    #expect(sightline_select_rank(&copy, count, rank) == sorted[rank], "count \(count), rank \(rank)")
                    #expect(copy.sorted() == sorted)
                }
            }
        }
    }

    /// Flat pools for a batch keep, row by row, what a pool of its own keeps (ties, repeats, payloads).
    @Test(arguments: [1, 7, 160])
    func flatPoolsKeepWhatSeparatePoolsKeep(k: Int) {
        var generator = SeededGenerator(seed: UInt64(k) + 100)
        let rows = 5
        let pools = CandidatePools(rows: rows, k: k)
        var separate = [CandidatePool](repeating: CandidatePool(k: k), count: rows)
        for _ in 0 ..< 3000 {
            let row = generator.nextInt(below: rows)
            let distance = Float(generator.nextInt(below: row == 0 ? 2 : 5000)), id = UInt64(generator.nextInt(below: 900))
            let payload = UInt64(generator.nextInt(below: 1 << 20))
            #expect(pools.worstDistance(row) == separate[row].worstDistance)
            pools.insert(row: row, distance: distance, id: id, payload: payload)
            separate[row].insert(distance: distance, id: id, payload: payload)
        }
        for row in 0 ..< rows {
            let flat = pools.pool(row).sortedWithPayloads(), alone = separate[row].sortedWithPayloads()
            #expect(flat.map(\.neighbor) == alone.map(\.neighbor), "row \(row)")
            #expect(flat.count == min(k, flat.count) && flat.count == alone.count)
        }
    }
}

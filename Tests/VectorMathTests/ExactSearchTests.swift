import Synchronization
import Testing
@testable import VectorMath

func randomMatrix(_ rows: Int, _ dimension: Int, seed: UInt64) -> Matrix {
    var generator = SeededGenerator(seed: seed)
    return try! Matrix(dimension: dimension, values: (0 ..< rows * dimension).map { _ in Float(generator.nextGaussian()) })
}

@Suite struct ExactSearchTests {
    @Test(arguments: [Metric.l2, .innerProduct], [1, 4])
    func matchesBruteForce(metric: Metric, threads: Int) throws {
        let base = randomMatrix(700, 17, seed: 1)
        let queries = randomMatrix(130, 17, seed: 2)
        let results = try exactSearch(queries: queries, base: base, k: 5, metric: metric, threads: threads)
        for q in 0 ..< queries.rowCount {
            let expected = (0 ..< base.rowCount).map { row in
                let distance = queries.values.withUnsafeBufferPointer { qb in
                    base.values.withUnsafeBufferPointer { bb in metric.distance(qb.baseAddress! + q * 17, bb.baseAddress! + row * 17, 17) }
                }
                return Neighbor(distance: distance, id: VectorID(UInt64(row)))
            }.sorted().prefix(5)
            #expect(results[q] == Array(expected))
        }
    }

    @Test func rejectsBadK() {
        let base = randomMatrix(10, 4, seed: 1)
        #expect(throws: VectorMathError.invalidK(k: 11, available: 10)) { try exactSearch(queries: base, base: base, k: 11, metric: .l2) }
        #expect(throws: VectorMathError.invalidK(k: 0, available: 10)) { try exactSearch(queries: base, base: base, k: 0, metric: .l2) }
    }

    @Test func parallelForVisitsEveryIndexOnce() {
        let visits = Mutex([Int](repeating: 0, count: 1000))
        parallelFor(1000, threads: 4, chunk: 7) { index in visits.withLock { $0[index] += 1 } }
        #expect(visits.withLock { $0.allSatisfy { $0 == 1 } })
    }

    @Test func seededGeneratorIsDeterministic() {
        var a = SeededGenerator(seed: 77), b = SeededGenerator(seed: 77), c = SeededGenerator(seed: 78)
        let first = (0 ..< 8).map { _ in a.next() }
        #expect(first == (0 ..< 8).map { _ in b.next() })
        #expect(first != (0 ..< 8).map { _ in c.next() })
        var sampler = SeededGenerator(seed: 1)
        let sample = sampler.sample(50, from: 60)
        #expect(Set(sample).count == 50 && sample.allSatisfy { $0 < 60 })
    }
}

@Suite struct ExactPairsTests {
    /// Property: the blocked sgemm screen + exact re-score equals the naive double loop, at several
    /// radii and sizes that do and do not fill the 256-row blocks.
    @Test(arguments: [(300, 5, UInt64(1)), (700, 16, 2), (257, 3, 3)])
    func equalsTheNaiveDoubleLoop(count: Int, dimension: Int, seed: UInt64) {
        var generator = SeededGenerator(seed: seed)
        var values = (0 ..< count * dimension).map { _ in Float(generator.nextGaussian()) }
        // Plant near-copies so small radii have pairs.
        for row in stride(from: 1, to: count, by: 7) {
            for j in 0 ..< dimension {
                values[row * dimension + j] = values[(row - 1) * dimension + j] + 0.01 * Float(generator.nextGaussian())
            }
        }
        let vectors = try! Matrix(dimension: dimension, values: values)
        for radius: Float in [0.001, 0.05, Float(dimension) * 0.5] {
            var expected: [RowPair] = []
            for i in 0 ..< count {
                for j in (i + 1) ..< count {
                    let d = Metric.l2.distance(Array(vectors.row(i)), Array(vectors.row(j)), dimension)
                    if d <= radius { expected.append(RowPair(first: i, second: j, distance: d)) }
                }
            }
            let found = exactPairsWithin(vectors, radius: radius, threads: 2)
            #expect(found.map { [$0.first, $0.second] } == expected.map { [$0.first, $0.second] }, "radius \(radius)")
            #expect(found.map(\.distance) == expected.map(\.distance))
        }
    }
}

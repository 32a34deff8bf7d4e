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

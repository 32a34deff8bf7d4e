import Testing
@testable import VectorMath

@Suite struct DistanceTests {
    static func naiveL2(_ a: [Float], _ b: [Float]) -> Float {
        zip(a, b).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
    }

    @Test(arguments: [1, 7, 8, 17, 127, 128, 784])
    func kernelsMatchNaiveReference(length: Int) {
        var generator = SeededGenerator(seed: UInt64(length))
        let a = (0 ..< length).map { _ in Float(generator.nextGaussian()) }
        let b = (0 ..< length).map { _ in Float(generator.nextGaussian()) }
        let l2 = a.withUnsafeBufferPointer { x in b.withUnsafeBufferPointer { y in squaredL2(x.baseAddress!, y.baseAddress!, length) } }
        let dot = a.withUnsafeBufferPointer { x in b.withUnsafeBufferPointer { y in dotProduct(x.baseAddress!, y.baseAddress!, length) } }
        let naiveDot = zip(a, b).reduce(Float(0)) { $0 + $1.0 * $1.1 }
        #expect(abs(l2 - Self.naiveL2(a, b)) <= 1e-4 * max(1, l2))
        #expect(abs(dot - naiveDot) <= 1e-4 * max(1, abs(naiveDot)))
    }

    @Test func metricDistanceIsLowerIsBetter() {
        let a: [Float] = [1, 0], b: [Float] = [0.9, 0.1], c: [Float] = [-1, 0]
        a.withUnsafeBufferPointer { x in
            b.withUnsafeBufferPointer { y in
                c.withUnsafeBufferPointer { z in
                    #expect(Metric.innerProduct.distance(x.baseAddress!, y.baseAddress!, 2)
                            < Metric.innerProduct.distance(x.baseAddress!, z.baseAddress!, 2))
                    #expect(Metric.l2.distance(x.baseAddress!, y.baseAddress!, 2) < Metric.l2.distance(x.baseAddress!, z.baseAddress!, 2))
                }
            }
        }
    }

    @Test func matrixRejectsRaggedAndNonFinite() throws {
        #expect(throws: VectorMathError.ragged(valueCount: 5, dimension: 2)) { try Matrix(dimension: 2, values: [1, 2, 3, 4, 5]) }
        let matrix = try Matrix(dimension: 2, values: [1, 2, .nan, 4])
        #expect(matrix.firstNonFiniteRow() == 1)
        #expect(throws: VectorMathError.nonFinite(what: "query", row: 1)) { try matrix.validateFinite("query") }
    }
}

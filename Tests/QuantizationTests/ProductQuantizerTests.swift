import Testing
@testable import Quantization
@testable import VectorMath

@Suite struct ProductQuantizerTests {
    static let data = clusteredData(4000, dimension: 32, clusters: 50, seed: 11)

    @Test func reconstructionErrorIsBoundedAndShrinksWithM() throws {
        var errors: [Double] = []
        for m in [2, 4, 8, 16] {
            let pq = try ProductQuantizer.train(Self.data, m: m, iterations: 10)
            errors.append(try pq.reconstructionError(Self.data))
        }
        // Mean squared norm of the data is about 32 · (25 + 1) = 832; PQ must do far better than
        // encoding nothing.
        let meanNorm = squaredNorms(Self.data).reduce(0.0) { $0 + Double($1) } / Double(Self.data.rowCount)
        #expect(errors[0] < 0.1 * meanNorm)
        for (coarser, finer) in zip(errors, errors.dropFirst()) { #expect(finer < coarser) }
    }

    @Test func encodeDecodeRoundTripsCentroids() throws {
        let pq = try ProductQuantizer.train(Self.data, m: 4, iterations: 5)
        let decoded = pq.decode(try pq.encode(Self.data.slice(0 ..< 50)))
        // Decoded vectors are made of centroids, so encoding them again is exact.
        #expect(pq.decode(try pq.encode(decoded)) == decoded)
    }

    @Test func distanceTableGivesTheDistanceToTheDecodedVector() throws {
        let pq = try ProductQuantizer.train(Self.data, m: 8, iterations: 5)
        let codes = try pq.encode(Self.data.slice(0 ..< 20))
        let decoded = pq.decode(codes)
        let query = Self.data.slice(100 ..< 101)
        var table = [Float](repeating: 0, count: 8 * 256)
        query.withUnsafeBufferPointer { q in
            table.withUnsafeMutableBufferPointer { pq.squaredL2Table(q.baseAddress!, into: $0.baseAddress!) }
        }
        for row in 0 ..< 20 {
            let adc = (0 ..< 8).reduce(Float(0)) { $0 + table[$1 * 256 + Int(codes[row * 8 + $1])] }
            let exact = query.withUnsafeBufferPointer { q in
                decoded.withUnsafeBufferPointer { squaredL2(q.baseAddress!, $0.baseAddress! + row * 32, 32) }
            }
            #expect(abs(adc - exact) <= 1e-3 * max(1, exact))
        }
    }

    @Test func rejectsMThatDoesNotDivideD() {
        #expect(throws: QuantizationError.subquantizerCountDoesNotDivide(dimension: 32, m: 5)) {
            try ProductQuantizer.train(Self.data, m: 5)
        }
        #expect(throws: QuantizationError.tooFewTrainingVectors(needed: 256, got: 100,
                                                                what: "a product quantizer (256 codes per sub-space)")) {
            try ProductQuantizer.train(Self.data.slice(0 ..< 100), m: 4)
        }
    }
}

import Foundation
import Testing
@testable import Quantization
@testable import VectorMath

/// OPQ: the Procrustes step finds a known rotation, the learned matrix is orthogonal, and on
/// correlated data it quantizes with less error than plain PQ of the same size.
@Suite struct OPQTests {
    /// Gaussian rows whose variance falls off steeply, turned by a random orthogonal matrix, so
    /// that every axis mixes strong and weak directions (plain PQ's sub-spaces are then unbalanced).
    static func correlated(rows: Int, dimension: Int, seed: UInt64) -> (data: Matrix, turn: Matrix) {
        var generator = SeededGenerator(seed: seed)
        let noise = (0 ..< dimension * dimension).map { _ in Float(generator.nextGaussian()) }
        let turn = try! Matrix(dimension: dimension, values: BLAS.orthogonalProcrustes(noise, dimension: dimension)!)
        let spread = (0 ..< dimension).map { Float(4 * Foundation.pow(0.8, Double($0))) }
        let values = (0 ..< rows * dimension).map { Float(generator.nextGaussian()) * spread[$0 % dimension] }
        return (OPQ.rotate(try! Matrix(dimension: dimension, values: values), by: turn), turn)
    }

    static func isOrthogonal(_ r: Matrix, tolerance: Float = 1e-3) -> Bool {
        let d = r.dimension
        var product = [Float](repeating: 0, count: d * d)
        r.withUnsafeBufferPointer {
            BLAS.gemm(transposeA: true, transposeB: false, m: d, n: d, k: d, $0.baseAddress!, $0.baseAddress!, into: &product)
        }
        return (0 ..< d * d).allSatisfy { abs(product[$0] - ($0 % (d + 1) == 0 ? 1 : 0)) <= tolerance }
    }

    @Test func procrustesRecoversAKnownRotation() {
        let (x, _) = Self.correlated(rows: 500, dimension: 12, seed: 1)
        let target = Self.correlated(rows: 1, dimension: 12, seed: 2).turn
        let y = OPQ.rotate(x, by: target)
        var product = [Float](repeating: 0, count: 144)
        x.withUnsafeBufferPointer { a in
            y.withUnsafeBufferPointer { b in
                BLAS.gemm(transposeA: true, transposeB: false, m: 12, n: 12, k: 500, a.baseAddress!, b.baseAddress!, into: &product)
            }
        }
        let found = BLAS.orthogonalProcrustes(product, dimension: 12)!
        #expect(zip(found, target.values).allSatisfy { abs($0 - $1) < 1e-3 })
        #expect(Self.isOrthogonal(target))
    }

    @Test func lowersReconstructionErrorOnCorrelatedData() throws {
        let (data, _) = Self.correlated(rows: 4000, dimension: 16, seed: 7)
        for bits in [8, 4] {
            let plain = try ProductQuantizer.train(data, m: 4, bits: bits, iterations: 10)
            let rotation = try OPQ.trainRotation(data, m: 4, bits: bits, iterations: 8, pqIterations: 4)
            #expect(Self.isOrthogonal(rotation))
            let rotated = OPQ.rotate(data, by: rotation)
            let optimized = try ProductQuantizer.train(rotated, m: 4, bits: bits, iterations: 10)
            let before = try plain.reconstructionError(data), after = try optimized.reconstructionError(rotated)
            #expect(after < 0.9 * before, "\(bits)-bit: OPQ \(after) against PQ \(before)")
            // Rotating back restores the rows: the rotation loses nothing.
            let back = OPQ.unrotate(rotated, by: rotation)
            #expect(zip(back.values, data.values).allSatisfy { abs($0 - $1) < 1e-3 })
        }
    }
}

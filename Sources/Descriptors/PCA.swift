import VectorMath

/// Principal component analysis by subspace iteration on the covariance matrix: the baseline
/// "PCA-d" descriptor, and a projection a user can apply before indexing.
public struct PCA: Sendable {
    public let mean: [Float]
    /// `components × inputSize`, row-major, orthonormal rows, largest variance first.
    public let components: Matrix

    /// Fits `count` components. Cost: `2·n·D²` flops for the covariance plus `iterations`
    /// products of `D² · count`.
    public init(fitting data: Matrix, count: Int, iterations: Int = 12, seed: UInt64 = 3) throws(DescriptorError) {
        let n = data.rowCount, dimension = data.dimension
        guard count >= 1, count <= dimension, n >= 2 else {
            throw .invalidParameter("PCA needs 1 ≤ components (\(count)) ≤ dimension (\(dimension)) and at least 2 rows")
        }
        var mean = [Float](repeating: 0, count: dimension)
        for row in 0 ..< n { for j in 0 ..< dimension { mean[j] += data.values[row * dimension + j] } }
        for j in 0 ..< dimension { mean[j] /= Float(n) }
        var centred = data.values
        for row in 0 ..< n { for j in 0 ..< dimension { centred[row * dimension + j] -= mean[j] } }
        var covariance = [Float](repeating: 0, count: dimension * dimension)
        centred.withUnsafeBufferPointer { x in
            covariance.withUnsafeMutableBufferPointer { c in
                BLAS.gemm(transposeA: true, transposeB: false, m: dimension, n: dimension, k: n, alpha: 1 / Float(n - 1),
                          x.baseAddress!, x.baseAddress!, into: c.baseAddress!)
            }
        }
        var generator = SeededGenerator(seed: seed)
        // Basis stored as rows (count × D).
        var basis = (0 ..< count * dimension).map { _ in Float(generator.nextGaussian()) }
        PCA.orthonormalize(&basis, rows: count, columns: dimension)
        for _ in 0 ..< iterations {
            var next = [Float](repeating: 0, count: count * dimension)
            basis.withUnsafeBufferPointer { q in
                covariance.withUnsafeBufferPointer { c in
                    next.withUnsafeMutableBufferPointer { z in
                        // Z = Q · C (C is symmetric).
                        BLAS.gemm(transposeA: false, transposeB: false, m: count, n: dimension, k: dimension,
                                  q.baseAddress!, c.baseAddress!, into: z.baseAddress!)
                    }
                }
            }
            basis = next
            PCA.orthonormalize(&basis, rows: count, columns: dimension)
        }
        self.mean = mean
        // Shape is count × D by construction.
        components = try! Matrix(dimension: dimension, values: basis)
    }

    /// Modified Gram–Schmidt on the rows, in order (so the leading directions stay first).
    static func orthonormalize(_ rows: inout [Float], rows count: Int, columns: Int) {
        for i in 0 ..< count {
            for j in 0 ..< i {
                var projection: Float = 0
                for k in 0 ..< columns { projection += rows[i * columns + k] * rows[j * columns + k] }
                for k in 0 ..< columns { rows[i * columns + k] -= projection * rows[j * columns + k] }
            }
            var norm: Float = 0
            for k in 0 ..< columns { norm += rows[i * columns + k] * rows[i * columns + k] }
            norm = max(norm.squareRoot(), 1e-20)
            for k in 0 ..< columns { rows[i * columns + k] /= norm }
        }
    }

    /// `(x − mean) · componentsᵀ` for each row.
    public func project(_ data: Matrix) throws(DescriptorError) -> Matrix {
        guard data.dimension == mean.count else { throw .dimensionMismatch(expected: mean.count, got: data.dimension) }
        var centred = data.values
        let dimension = mean.count
        for row in 0 ..< data.rowCount { for j in 0 ..< dimension { centred[row * dimension + j] -= mean[j] } }
        var result = Matrix(zeros: data.rowCount, dimension: components.rowCount)
        centred.withUnsafeBufferPointer { x in
            components.withUnsafeBufferPointer { w in
                result.withUnsafeMutableBufferPointer { y in
                    BLAS.gemm(transposeA: false, transposeB: true, m: data.rowCount, n: components.rowCount, k: dimension,
                              x.baseAddress!, w.baseAddress!, into: y.baseAddress!)
                }
            }
        }
        return result
    }
}

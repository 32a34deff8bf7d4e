import VectorMath

/// Optimized product quantization (Ge, He, Ke & Sun 2013; `OPQMatrix` in FAISS): an orthogonal
/// rotation `R` applied before PQ (`x ↦ x·R`) so that the sub-spaces carry balanced, less
/// correlated variance and the codes lose less. Distances are unchanged by `R`, so only the
/// quantizer sees the rotated space.
///
/// Training alternates, as FAISS does: train a PQ on `X·R` (a few k-means rounds), reconstruct
/// `Y`, then set `R` to the orthogonal map that best takes `X` to `Y` (Procrustes, one SVD).
public enum OPQ {
    /// Training vectors used at most (FAISS's `max_train_points`, 256 × 256).
    public static let maxTrainingVectors = 65_536

    /// The learned `d × d` rotation (row-major; applied on the right, `x·R`).
    /// - Parameter progress: `(iteration, of, mean squared reconstruction error)`.
    public static func trainRotation(
        _ data: Matrix, m: Int, bits: Int = 8, iterations: Int = 12, pqIterations: Int = 4, seed: UInt64 = 1234,
        threads: Int = 1, progress: ((_ iteration: Int, _ of: Int, _ error: Double) -> Void)? = nil
    ) throws(QuantizationError) -> Matrix {
        try ProductQuantizer.validate(dimension: data.dimension, m: m, bits: bits)
        let sample = data.rowCount > maxTrainingVectors
            ? data.rows(at: (0 ..< maxTrainingVectors).map { $0 * data.rowCount / maxTrainingVectors }) : data
        let d = data.dimension
        var rotation = Matrix.identity(d)
        for iteration in 1 ... max(1, iterations) {
            let rotated = rotate(sample, by: rotation)
            let quantizer = try ProductQuantizer.train(rotated, m: m, bits: bits, iterations: pqIterations, seed: seed, threads: threads)
            let reconstructed = quantizer.decode(try quantizer.encode(rotated, threads: threads))
            progress?(iteration, iterations, meanSquaredDistance(rotated, reconstructed))
            var product = [Float](repeating: 0, count: d * d)
            sample.withUnsafeBufferPointer { x in
                reconstructed.withUnsafeBufferPointer { y in
                    BLAS.gemm(transposeA: true, transposeB: false, m: d, n: d, k: sample.rowCount,
                              x.baseAddress!, y.baseAddress!, into: &product)
                }
            }
            guard let next = BLAS.orthogonalProcrustes(product, dimension: d) else {
                throw .invalidParameter(name: "OPQ rotation", value: iteration,
                                        allowed: "the singular value decomposition did not converge at this iteration")
            }
            // The shape is d × d by construction.
            rotation = try! Matrix(dimension: d, values: next)
        }
        return rotation
    }

    /// `data · rotation` (each row rotated).
    public static func rotate(_ data: Matrix, by rotation: Matrix) -> Matrix {
        precondition(rotation.dimension == data.dimension && rotation.rowCount == data.dimension, "callers pass a d × d rotation")
        var result = Matrix(zeros: data.rowCount, dimension: data.dimension)
        let d = data.dimension
        data.withUnsafeBufferPointer { x in
            rotation.withUnsafeBufferPointer { r in
                result.withUnsafeMutableBufferPointer { out in
                    BLAS.gemm(transposeA: false, transposeB: false, m: data.rowCount, n: d, k: d,
                              x.baseAddress!, r.baseAddress!, into: out.baseAddress!)
                }
            }
        }
        return result
    }

    /// `data · rotationᵀ`: rotated rows back to the original space.
    public static func unrotate(_ data: Matrix, by rotation: Matrix) -> Matrix {
        var result = Matrix(zeros: data.rowCount, dimension: data.dimension)
        data.withUnsafeBufferPointer { x in
            rotation.withUnsafeBufferPointer { r in
                result.withUnsafeMutableBufferPointer { out in
                    BLAS.gemm(transposeA: false, transposeB: true, m: data.rowCount, n: data.dimension, k: data.dimension,
                              x.baseAddress!, r.baseAddress!, into: out.baseAddress!)
                }
            }
        }
        return result
    }

    static func meanSquaredDistance(_ a: Matrix, _ b: Matrix) -> Double {
        var total = 0.0
        a.withUnsafeBufferPointer { x in
            b.withUnsafeBufferPointer { y in
                for row in 0 ..< a.rowCount {
                    total += Double(squaredL2(x.baseAddress! + row * a.dimension, y.baseAddress! + row * a.dimension, a.dimension))
                }
            }
        }
        return total / Double(max(1, a.rowCount))
    }
}

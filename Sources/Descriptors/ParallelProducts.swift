import VectorMath

/// Matrix products split over threads by Sightline itself, with OpenBLAS at one thread: OpenBLAS's
/// own threads spin in `sched_yield` between the many mid-sized products of a training step and
/// waste a fifth of the time on 2 cores. Results depend only on the thread count.
enum ParallelProducts {
    /// `C[m×n] = A[m×k] · op(B) + beta·C`, the rows of A (and C) split between threads.
    static func rowSplit(threads: Int, transposeB: Bool, m: Int, n: Int, k: Int,
                         _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, beta: Float = 0, into c: UnsafeMutablePointer<Float>) {
        let parts = min(max(1, threads), max(1, m / 64))
        let shared = DisjointWrites((a, b, c))
        parallelFor(parts, threads: parts) { part in
            let start = m * part / parts, end = m * (part + 1) / parts
            guard end > start else { return }
            let (a, b, c) = shared.value
            BLAS.gemm(transposeA: false, transposeB: transposeB, m: end - start, n: n, k: k,
                      a + start * k, b, beta: beta, into: c + start * n)
        }
    }

    /// `C[m×n] += A[k×m]ᵀ · B[k×n]`: the shared dimension `k` (the batch) split between threads,
    /// each part into its own buffer, the parts then added in order.
    static func accumulateTransposed(threads: Int, m: Int, n: Int, k: Int,
                                     _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into c: UnsafeMutablePointer<Float>) {
        let parts = min(max(1, threads), max(1, k / 64))
        guard parts > 1 else {
            BLAS.gemm(transposeA: true, transposeB: false, m: m, n: n, k: k, a, b, beta: 1, into: c)
            return
        }
        var partials = [Float](repeating: 0, count: parts * m * n)
        partials.withUnsafeMutableBufferPointer { buffer in
            let shared = DisjointWrites((a, b, buffer.baseAddress!))
            parallelFor(parts, threads: parts) { part in
                let start = k * part / parts, end = k * (part + 1) / parts
                let (a, b, out) = shared.value
                BLAS.gemm(transposeA: true, transposeB: false, m: m, n: n, k: end - start,
                          a + start * m, b + start * n, into: out + part * m * n)
            }
            for part in 0 ..< parts { for i in 0 ..< m * n { c[i] += buffer[part * m * n + i] } }
        }
    }
}

import COpenBLAS

/// Thin wrappers over OpenBLAS. All matrices are row-major `Float`.
public enum BLAS {
    /// `C[m×n] = alpha · A[m×k] · B[n×k]ᵀ + beta · C`: the products of every row of A with every
    /// row of B, the kernel behind exact search and k-means assignment. Cost: `2·m·n·k` flops.
    public static func multiplyTransposed(
        _ a: UnsafePointer<Float>, rows m: Int,
        _ b: UnsafePointer<Float>, rows n: Int,
        depth k: Int,
        into c: UnsafeMutablePointer<Float>,
        alpha: Float = 1, beta: Float = 0
    ) {
        guard m > 0, n > 0, k > 0 else { return }
        BlasThreadPolicy.ensureSingleThreaded()
        cblas_sgemm(
            CblasRowMajor, CblasNoTrans, CblasTrans,
            Int32(m), Int32(n), Int32(k),
            alpha, a, Int32(k), b, Int32(k),
            beta, c, Int32(n))
    }

    /// The strided form: `C = A · Bᵀ` where A's rows are `leadingA` floats apart, B's `leadingB`
    /// and C's `leadingC`. Lets a caller multiply one sub-space of a set of vectors in place.
    public static func multiplyTransposed(
        _ a: UnsafePointer<Float>, rows m: Int, leadingA: Int,
        _ b: UnsafePointer<Float>, rows n: Int, leadingB: Int,
        depth k: Int,
        into c: UnsafeMutablePointer<Float>, leadingC: Int,
        alpha: Float = 1
    ) {
        guard m > 0, n > 0, k > 0 else { return }
        BlasThreadPolicy.ensureSingleThreaded()
        cblas_sgemm(
            CblasRowMajor, CblasNoTrans, CblasTrans,
            Int32(m), Int32(n), Int32(k),
            alpha, a, Int32(leadingA), b, Int32(leadingB),
            0, c, Int32(leadingC))
    }

    /// General `C[m×n] = alpha · op(A) · op(B) + beta · C`, row-major, where `op(X)` is `X` or `Xᵀ`.
    /// `A` is `m×k` (or `k×m` when transposed), `B` is `k×n` (or `n×k`). The training code's
    /// forward and backward passes are all this call. Cost: `2·m·n·k` flops.
    public static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float = 1, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
        beta: Float = 0, into c: UnsafeMutablePointer<Float>
    ) {
        guard m > 0, n > 0, k > 0 else { return }
        BlasThreadPolicy.ensureSingleThreaded()
        cblas_sgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha,
            a, Int32(transposeA ? m : k), b, Int32(transposeB ? k : n),
            beta, c, Int32(n))
    }

    /// Sets how many threads OpenBLAS itself uses. Sightline keeps it at 1 (set before the first
    /// product): it parallelises its own loops, so 2 cores are never asked to run 4 threads, and a
    /// product's result never depends on how OpenBLAS split it across threads, which keeps a
    /// query's distances bit-identical on a single node and on a cluster's workers.
    public static func setThreadCount(_ count: Int) {
        openblas_set_num_threads(Int32(max(1, count)))
    }

    public static var threadCount: Int { Int(openblas_get_num_threads()) }
}

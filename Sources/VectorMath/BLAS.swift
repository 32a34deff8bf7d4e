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

    /// One row's product: `c[j] = alpha · ⟨a, b_j⟩` for the `n` rows of B, `leadingB` floats
    /// apart (`multiplyTransposed` with one row of A). A matrix–vector product (`sgemv`): it
    /// packs nothing, where `sgemm` copies both operands into its blocking buffers first, which
    /// for one query costs more than the product (a one-query search spends most of its table
    /// and centroid time there). Every one-row product of a search goes through here, so a
    /// query answered alone gets the same bits whichever path asked.
    public static func multiplyRow(
        _ a: UnsafePointer<Float>,
        _ b: UnsafePointer<Float>, rows n: Int, leadingB: Int,
        depth k: Int,
        into c: UnsafeMutablePointer<Float>,
        alpha: Float = 1
    ) {
        guard n > 0, k > 0 else { return }
        BlasThreadPolicy.ensureSingleThreaded()
        cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(n), Int32(k), alpha, b, Int32(leadingB), a, 1, 0, c, 1)
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

extension BLAS {
    /// The orthogonal `R` (`d × d`, row-major) that best maps `X` onto `Y` (`‖X·R − Y‖` least):
    /// `R = U·Vᵀ` for the singular value decomposition `Xᵀ·Y = U·S·Vᵀ` (Schönemann 1966), given
    /// `product = Xᵀ·Y` (row-major). Nil when LAPACK does not converge.
    public static func orthogonalProcrustes(_ product: [Float], dimension d: Int) -> [Float]? {
        precondition(product.count == d * d, "callers pass a d × d product")
        // Row-major Xᵀ·Y read as column-major is its transpose V·S·Uᵀ: LAPACK's u is V, its vt is Uᵀ,
        // and the column-major product u·vt = V·Uᵀ read back as row-major is (V·Uᵀ)ᵀ = U·Vᵀ.
        var a = product, singular = [Float](repeating: 0, count: d)
        var u = [Float](repeating: 0, count: d * d), vt = [Float](repeating: 0, count: d * d)
        var n = Int32(d), info: Int32 = 0, lwork: Int32 = -1, query: Float = 0
        let all = Int8(UInt8(ascii: "A"))
        var jobu = all, jobvt = all
        sgesvd_(&jobu, &jobvt, &n, &n, &a, &n, &singular, &u, &n, &vt, &n, &query, &lwork, &info, 1, 1)
        guard info == 0 else { return nil }
        lwork = Int32(query)
        var work = [Float](repeating: 0, count: max(1, Int(lwork)))
        sgesvd_(&jobu, &jobvt, &n, &n, &a, &n, &singular, &u, &n, &vt, &n, &work, &lwork, &info, 1, 1)
        guard info == 0 else { return nil }
        var rotation = [Float](repeating: 0, count: d * d)
        BlasThreadPolicy.ensureSingleThreaded()
        cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, u, n, vt, n, 0, &rotation, n)
        return rotation
    }
}

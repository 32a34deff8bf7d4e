import VectorMath

/// Per-call search parameters. An index is an immutable value searched with these, so concurrent
/// queries with different settings need no lock (`SearchParametersIVF` in FAISS).
public struct SearchParameters: Sendable, Equatable {
    /// The centroid whose distance scales `probeRatio` (1-based): one neighbour is a noisy
    /// scale, and the nearest few lists are always visited.
    public static let probeRatioReference = 4

    /// Results per query. Must be between 1 and the number of indexed vectors.
    public var k: Int
    /// Inverted lists visited per query (`nprobe`). Cost and recall both grow about linearly
    /// with it until recall saturates; must be between 1 and `nlist`.
    public var probeCount: Int
    /// Skips the far end of the `probeCount` lists per query: a list is visited only when its
    /// centroid's squared distance is at most `probeRatio` times that of the query's
    /// `probeRatioReference`-th nearest centroid. A query deep inside a cluster of lists then
    /// visits many, one near a single list few; at equal recall the scan reads fewer codes than a
    /// fixed `nprobe`. 0 turns it off; otherwise at least 1 (L2 indexes only).
    public var probeRatio: Float = 0
    /// Re-rank the best `k × refineFactor` ADC candidates with exact distances on the stored
    /// full vectors (`k_factor` of FAISS `IndexRefine`). 0 or 1 disables it. Needs an index built
    /// with full vectors (`4 · d` more bytes per vector).
    public var refineFactor: Int
    /// Threads over queries; 0 means all cores.
    public var threads: Int
    /// Each query's products (centroid ranking, ADC tables) computed on their own, one-row BLAS
    /// calls, so its answer is bit-identical to searching it alone whatever batch it travels in
    /// (OpenBLAS picks kernels by shape). Off: chunks of 32 queries share one product (faster).
    public var queriesApart: Bool
    /// The fast-scan kernel for 4-bit indexes; nil: the one chosen for this CPU. Tests set it
    /// to hold every kernel to the same answers.
    public var fastScanKernel: FastScan.Kernel?

    /// A probe ratio a search takes: 0 (off), or a finite number at least 1.
    public static func isValidProbeRatio(_ ratio: Float) -> Bool { ratio == 0 || (ratio >= 1 && ratio.isFinite) }

    /// Checks a probe ratio for an index of `metric` (inner-product terms have no common scale).
    public static func checkProbeRatio(_ ratio: Float, metric: Metric) throws(VectorIndexError) {
        guard isValidProbeRatio(ratio) else {
            throw .invalidParameter("probe ratio \(ratio) must be 0 (off) or a finite number at least 1")
        }
        guard ratio == 0 || metric == .l2 else {
            throw .invalidParameter("probe ratio applies to L2 indexes: inner-product centroid terms have no common scale")
        }
    }

    public init(k: Int = 10, probeCount: Int = 1, refineFactor: Int = 0, threads: Int = 1, queriesApart: Bool = false) {
        self.queriesApart = queriesApart
        self.k = k
        self.probeCount = probeCount
        self.refineFactor = refineFactor
        self.threads = threads
    }
}

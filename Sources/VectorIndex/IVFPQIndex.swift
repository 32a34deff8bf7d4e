import Quantization
import VectorMath

/// How an IVF-PQ index is shaped. These are fixed at training time.
public struct IVFPQConfiguration: Sendable, Equatable {
    public var dimension: Int
    /// Inverted lists (`nlist`). More lists: shorter scans per probe but more centroids to rank
    /// and a larger precomputed table (`nlist × m × 256 × 4` bytes for L2). `√n … 16√n` is usual.
    public var listCount: Int
    /// PQ sub-quantizers (`M`, `--m`): the code size in bytes. More bytes: better recall, more
    /// memory and a slower scan. Must divide `dimension`.
    public var subquantizerCount: Int
    public var metric: Metric
    /// Keep the full vectors for refine (`4 · d` bytes per vector more).
    public var storesVectors: Bool
    /// Bits per sub-quantizer code (`--pq-bits`): 8 (256 sub-centroids, table lookups) or 4
    /// (16 sub-centroids, scanned 32 codes at a time with SIMD shuffles: see `FastScan`).
    public var bitsPerCode: Int
    /// Keep each vector as 8-bit scalar codes for refine (`--refine-codes sq8`: `d` bytes per
    /// vector instead of `4d`; refine distances are then those to the decoded vector).
    public var storesScalarCodes: Bool
    /// Rotate residuals with a learned orthogonal matrix before PQ (`--opq`, see `OPQ`).
    public var usesOPQ: Bool
    /// Rank the coarse centroids through an HNSW graph over them (`--coarse-hnsw`) instead of
    /// against every one: for many lists (16,384 and more), where exact ranking dominates a query.
    public var coarseGraph: Bool

    public init(dimension: Int, listCount: Int, subquantizerCount: Int, metric: Metric = .l2, storesVectors: Bool = false,
                bitsPerCode: Int = 8, storesScalarCodes: Bool = false, usesOPQ: Bool = false, coarseGraph: Bool = false) {
        self.storesScalarCodes = storesScalarCodes
        self.usesOPQ = usesOPQ
        self.coarseGraph = coarseGraph
        self.dimension = dimension
        self.listCount = listCount
        self.subquantizerCount = subquantizerCount
        self.metric = metric
        self.storesVectors = storesVectors
        self.bitsPerCode = bitsPerCode
    }

    /// Sub-centroids per sub-space.
    public var centroidsPerSubspace: Int { 1 << bitsPerCode }
    /// 4-bit codes are searched with the fast-scan kernels.
    public var usesFastScan: Bool { bitsPerCode == 4 }
    /// Candidates can be re-ranked: full vectors or their 8-bit codes are kept.
    public var canRefine: Bool { storesVectors || storesScalarCodes }

    public func validate() throws(VectorIndexError) {
        guard dimension >= 1 else { throw .invalidParameter("dimension \(dimension) must be positive") }
        guard listCount >= 1 else { throw .invalidParameter("nlist = \(listCount) must be at least 1") }
        guard !(storesVectors && storesScalarCodes) else {
            throw .invalidParameter("refine reads full vectors or their 8-bit codes, not both: "
                                    + "choose --store-vectors or --refine-codes sq8")
        }
        do { try ProductQuantizer.validate(dimension: dimension, m: subquantizerCount, bits: bitsPerCode) } catch {
            throw .quantization(error)
        }
    }
}

/// Training settings: k-means iterations and seed, threads and progress.
public struct IVFPQTraining: Sendable {
    /// Lloyd iterations for the coarse quantizer and each sub-quantizer (`niter`, default 25).
    public var iterations: Int = 25
    public var seed: UInt64 = 1234
    public var initialization: KMeansInitialization = .random
    public var threads: Int = 1
    public init() {}
}

/// An inverted-file index with product-quantized residuals (IVF-PQ, `IndexIVFPQ` in FAISS).
///
/// Each vector goes to the list of its nearest coarse centroid; the residual to that centroid is
/// PQ-encoded in `m` bytes. A search ranks the centroids, visits the `nprobe` nearest lists and
/// scores each code with `m` table lookups (asymmetric distance computation).
///
/// For L2 the tables use FAISS's precomputed-term decomposition
/// `‖q − c − r‖² = ‖q − c‖² + (‖r‖² + 2⟨c, r⟩) − 2⟨q, r⟩`: the middle term is stored per list
/// (`nlist × m × ksub` floats), the last is computed once per query, so a probe costs `m · ksub`
/// additions instead of `d · ksub` multiply-adds.
///
/// Memory: `8 + m` bytes per vector (`+ 4d` with stored vectors), plus centroids
/// (`nlist · d · 4`), codebooks (`d · 256 · 4`) and, for L2, the precomputed terms.
public struct IVFPQIndex: Sendable {
    public private(set) var configuration: IVFPQConfiguration
    /// `nlist × d` coarse centroids.
    public let coarseCentroids: Matrix
    public let quantizer: ProductQuantizer
    /// The 8-bit scalar quantizer of the refine codes (`storesScalarCodes` only).
    public let scalarQuantizer: ScalarQuantizer?
    /// The OPQ rotation (`d × d`, `r ↦ r·R`) applied to residuals before PQ (`usesOPQ` only).
    public let rotation: Matrix?
    /// The graph over the coarse centroids (`coarseGraph` only); rebuilt from them, seeded, so
    /// every process that loads the codebooks ranks lists the same way.
    private(set) var coarseGraphIndex: HNSWIndex?
    public internal(set) var lists: [InvertedList]
    /// `‖r‖² + 2⟨c, r⟩` per (list, sub-quantizer, code) for L2; empty for inner product.
    let precomputedTerms: [Float]
    /// `‖c‖²` per coarse centroid.
    let centroidNorms: [Float]
    /// 4-bit codebooks by column, `(m, dsub, 16)`: a query's 16 products per sub-space are then
    /// `dsub` multiply-adds of 16 lanes (see `fillFastScanQueryTables`); empty for 8-bit codes.
    let codebooksByColumn: [Float]

    public var dimension: Int { configuration.dimension }
    public var metric: Metric { configuration.metric }
    public var listCount: Int { configuration.listCount }
    public var codeSize: Int { quantizer.codeSize }
    public var count: Int { count(upTo: .max) }

    /// The number of entries, or `limit` once that many were counted: a search that needs k
    /// entries stops after a list or two, where a full count touches every list's storage (a
    /// cache miss each: 5 % of a worker's CPU a search at 1,024 lists).
    public func count(upTo limit: Int) -> Int {
        var total = 0
        for list in lists.indices {
            total += lists[list].ids.count
            if total >= limit { return limit }
        }
        return total
    }

    /// Assembles an index from trained parts (used by training and by the file codec).
    public init(configuration: IVFPQConfiguration, coarseCentroids: Matrix, quantizer: ProductQuantizer,
                scalarQuantizer: ScalarQuantizer? = nil, rotation: Matrix? = nil, lists: [InvertedList]? = nil) throws(VectorIndexError) {
        guard configuration.usesOPQ == (rotation != nil),
              rotation.map({ $0.rowCount == configuration.dimension && $0.dimension == configuration.dimension }) ?? true else {
            throw .corruptFile("an OPQ index needs a d × d rotation, and only it does")
        }
        self.rotation = rotation
        guard configuration.storesScalarCodes == (scalarQuantizer != nil),
              scalarQuantizer.map({ $0.dimension == configuration.dimension }) ?? true else {
            throw .corruptFile("8-bit refine codes need a scalar quantizer of the index's dimension, and only they do")
        }
        self.scalarQuantizer = scalarQuantizer
        try configuration.validate()
        guard coarseCentroids.dimension == configuration.dimension,
              coarseCentroids.rowCount == configuration.listCount else {
            throw .corruptFile("coarse centroids are \(coarseCentroids.rowCount)×\(coarseCentroids.dimension), "
                               + "expected \(configuration.listCount)×\(configuration.dimension)")
        }
        guard quantizer.dimension == configuration.dimension,
              quantizer.subquantizerCount == configuration.subquantizerCount,
              quantizer.bitsPerCode == configuration.bitsPerCode else {
            throw .corruptFile("product quantizer shape does not match the index")
        }
        self.configuration = configuration
        self.coarseCentroids = coarseCentroids
        self.quantizer = quantizer
        self.lists = lists ?? Array(repeating: InvertedList(), count: configuration.listCount)
        self.centroidNorms = squaredNorms(coarseCentroids)
        self.precomputedTerms = configuration.metric == .l2
            ? IVFPQIndex.precomputeTerms(rotation.map { OPQ.rotate(coarseCentroids, by: $0) } ?? coarseCentroids, quantizer) : []
        self.codebooksByColumn = configuration.usesFastScan ? IVFPQIndex.byColumn(quantizer) : []
        self.coarseGraphIndex = configuration.coarseGraph ? try IVFPQIndex.graph(over: coarseCentroids, metric: configuration.metric) : nil
        refreshFastScanLayout()
    }

    /// Trains the coarse quantizer and the product quantizer on `data`; the result holds no vectors.
    /// - Parameter progress: `(stage, done, total, objective)`; stages are "coarse k-means" (per
    ///   iteration, with its objective) and "product quantizer" (per sub-quantizer, no objective).
    public static func train(
        _ data: Matrix,
        configuration: IVFPQConfiguration,
        training: IVFPQTraining = IVFPQTraining(),
        progress: (@Sendable (_ stage: String, _ done: Int, _ total: Int, _ objective: Double?) -> Void)? = nil
    ) throws(VectorIndexError) -> IVFPQIndex {
        try configuration.validate()
        guard data.dimension == configuration.dimension else {
            throw .dimensionMismatch(expected: configuration.dimension, got: data.dimension)
        }
        if let row = data.firstNonFiniteRow() { throw .nonFinite(what: "training", row: row) }
        guard data.rowCount >= configuration.listCount else {
            throw .quantization(.tooFewTrainingVectors(needed: configuration.listCount, got: data.rowCount,
                                                       what: "nlist = \(configuration.listCount) coarse centroids"))
        }
        let ksub = configuration.centroidsPerSubspace
        guard data.rowCount >= ksub else {
            throw .quantization(.tooFewTrainingVectors(needed: ksub, got: data.rowCount,
                                                       what: "a product quantizer (\(ksub) codes per sub-space)"))
        }
        do {
            var coarse = KMeansParameters(centroidCount: configuration.listCount)
            coarse.iterations = training.iterations
            coarse.seed = training.seed
            coarse.initialization = training.initialization
            coarse.threads = training.threads
            let iterations = training.iterations
            let result = try trainKMeans(data, coarse) { iteration, objective in
                progress?("coarse k-means", iteration, iterations, objective)
            }
            var residuals = residualsToNearest(data, centroids: result.centroids, threads: training.threads)
            var rotation: Matrix?
            if configuration.usesOPQ {
                let learned = try OPQ.trainRotation(residuals, m: configuration.subquantizerCount, bits: configuration.bitsPerCode,
                                                    seed: training.seed &+ 104_729, threads: training.threads) { done, total, error in
                    progress?("OPQ rotation", done, total, error)
                }
                residuals = OPQ.rotate(residuals, by: learned)
                rotation = learned
            }
            let quantizer = try ProductQuantizer.train(
                residuals, m: configuration.subquantizerCount, bits: configuration.bitsPerCode, iterations: training.iterations,
                seed: training.seed &+ 7919, threads: training.threads
            ) { done, total in progress?("product quantizer", done, total, nil) }
            let scalar = configuration.storesScalarCodes ? try ScalarQuantizer.train(data) : nil
            return try IVFPQIndex(configuration: configuration, coarseCentroids: result.centroids, quantizer: quantizer,
                                  scalarQuantizer: scalar, rotation: rotation)
        } catch let error as QuantizationError {
            throw .quantization(error)
        } catch let error as VectorIndexError {
            throw error
        } catch {
            throw .invalidParameter("training failed: \(error)")
        }
    }

    /// `x − c(x)` for each row, where `c(x)` is its nearest centroid; also returns the list numbers.
    static func residualsToNearest(_ data: Matrix, centroids: Matrix, threads: Int) -> Matrix {
        residuals(data, centroids: centroids, labels: assignNearest(data, to: centroids, threads: threads).labels)
    }

    static func residuals(_ data: Matrix, centroids: Matrix, labels: [Int32]) -> Matrix {
        var result = data
        let dimension = data.dimension
        centroids.withUnsafeBufferPointer { centroidBuffer in
            result.withUnsafeMutableBufferPointer { buffer in
                for row in 0 ..< data.rowCount {
                    let centroid = Int(labels[row]) * dimension
                    for j in 0 ..< dimension { buffer[row * dimension + j] -= centroidBuffer[centroid + j] }
                }
            }
        }
        return result
    }

    /// The codebooks as `(m, dsub, ksub)`.
    static func byColumn(_ quantizer: ProductQuantizer) -> [Float] {
        let m = quantizer.subquantizerCount, dsub = quantizer.subDimension, ksub = quantizer.centroidsPerSubspace
        var columns = [Float](repeating: 0, count: quantizer.centroids.count)
        for sub in 0 ..< m {
            for code in 0 ..< ksub {
                for j in 0 ..< dsub { columns[(sub * dsub + j) * ksub + code] = quantizer.centroids[(sub * ksub + code) * dsub + j] }
            }
        }
        return columns
    }

    /// Switches how lists are ranked (`coarseGraph`) and nothing else: the graph is built from
    /// the centroids or dropped; codebooks and codes stay, so an index built once can be
    /// measured both ways.
    public mutating func setCoarseGraph(_ enabled: Bool) throws(VectorIndexError) {
        guard enabled != configuration.coarseGraph else { return }
        coarseGraphIndex = enabled ? try IVFPQIndex.graph(over: coarseCentroids, metric: configuration.metric) : nil
        configuration.coarseGraph = enabled
    }

    /// An HNSW graph over the centroids, node `i` for list `i` (M 32, efConstruction 80).
    static func graph(over centroids: Matrix, metric: Metric) throws(VectorIndexError) -> HNSWIndex {
        var graph = try HNSWIndex(dimension: centroids.dimension, metric: metric, neighborsPerNode: 32, efConstruction: 80, seed: 1234)
        try graph.add(centroids, ids: (0 ..< centroids.rowCount).map { VectorID(UInt64($0)) })
        return graph
    }

    /// The residuals `codes` stand for, in the vectors' own space (rotated back under OPQ).
    public func decodeResiduals(_ codes: [UInt8]) -> Matrix {
        let decoded = quantizer.decode(codes)
        return rotation.map { OPQ.unrotate(decoded, by: $0) } ?? decoded
    }

    /// `‖r‖² + 2⟨c, r⟩` for every list `c` and every sub-centroid `r` (sub-space by sub-space).
    /// Under OPQ, `c` is the rotated centroid: the table then scores rotated residuals.
    static func precomputeTerms(_ centroids: Matrix, _ quantizer: ProductQuantizer) -> [Float] {
        let m = quantizer.subquantizerCount, dsub = quantizer.subDimension, ksub = quantizer.centroidsPerSubspace
        let nlist = centroids.rowCount, dimension = centroids.dimension
        var terms = [Float](repeating: 0, count: nlist * m * ksub)
        quantizer.centroids.withUnsafeBufferPointer { codebooks in
            centroids.withUnsafeBufferPointer { coarse in
                for sub in 0 ..< m {
                    for code in 0 ..< ksub {
                        let r = codebooks.baseAddress! + (sub * ksub + code) * dsub
                        let norm = dotProduct(r, r, dsub)
                        for list in 0 ..< nlist {
                            let c = coarse.baseAddress! + list * dimension + sub * dsub
                            terms[(list * m + sub) * ksub + code] = norm + 2 * dotProduct(c, r, dsub)
                        }
                    }
                }
            }
        }
        return terms
    }
}

import VectorMath

/// A product quantizer: the vector is cut into `m` sub-vectors of `dsub = d / m` components and
/// each is replaced by the index of its nearest of `2^bits` sub-centroids (256 for 8-bit codes,
/// 16 for 4-bit ones), one byte a sub-quantizer in memory
/// (Jégou, Douze & Schmid 2011; `ProductQuantizer` in FAISS).
///
/// Centroid table: `m × ksub × dsub` floats, layout `(m, ksub, dsub)`. Memory: `d × ksub × 4` bytes.
public struct ProductQuantizer: Sendable, Equatable {
    /// Sub-centroids of 8-bit codes, the most a code can name.
    public static let maxCentroidsPerSubspace = 256
    /// Code widths supported: 8 (the default) and 4 (fast-scan).
    public static let supportedBits: Set<Int> = [4, 8]
    public static let maxFastScanSubquantizers = 1024

    public let dimension: Int
    /// Number of sub-quantizers (`M` in FAISS, `--m`); also the code size in bytes.
    public let subquantizerCount: Int
    /// Bits a sub-quantizer's code carries (`nbits` in FAISS, `--pq-bits`).
    public let bitsPerCode: Int
    /// Sub-centroids per sub-space (`ksub = 2^bits`).
    public var centroidsPerSubspace: Int { 1 << bitsPerCode }
    public var subDimension: Int { dimension / subquantizerCount }
    public var codeSize: Int { subquantizerCount }
    /// Layout `(m, ksub, dsub)`.
    public private(set) var centroids: [Float]

    /// Checks the shape; use `train` to learn the centroids.
    public init(dimension: Int, subquantizerCount m: Int, bitsPerCode: Int = 8, centroids: [Float]) throws(QuantizationError) {
        try ProductQuantizer.validate(dimension: dimension, m: m, bits: bitsPerCode)
        guard centroids.count == dimension << bitsPerCode else {
            throw .dimensionMismatch(expected: dimension << bitsPerCode, got: centroids.count)
        }
        self.dimension = dimension
        self.subquantizerCount = m
        self.bitsPerCode = bitsPerCode
        self.centroids = centroids
    }

    public static func validate(dimension: Int, m: Int, bits: Int = 8) throws(QuantizationError) {
        guard m >= 1, m <= dimension else {
            throw .invalidParameter(name: "m", value: m, allowed: "use 1 ≤ m ≤ d (= \(dimension))")
        }
        guard dimension % m == 0 else { throw .subquantizerCountDoesNotDivide(dimension: dimension, m: m) }
        guard supportedBits.contains(bits) else {
            throw .invalidParameter(name: "pq-bits", value: bits, allowed: "use 8 (256 sub-centroids) or 4 (16, fast-scan)")
        }
        // 4-bit sums run in 16-bit lanes (see `FastScan`).
        guard bits == 8 || m <= maxFastScanSubquantizers else {
            throw .invalidParameter(name: "m", value: m, allowed: "4-bit codes take at most \(maxFastScanSubquantizers) sub-quantizers")
        }
    }

    /// Trains one k-means (`2^bits` centroids) per sub-space.
    /// - Complexity: `m` k-means runs of `2 · n · ksub · dsub` flops per iteration.
    public static func train(
        _ data: Matrix, m: Int, bits: Int = 8, iterations: Int = 25, seed: UInt64 = 1234, threads: Int = 1,
        progress: (@Sendable (_ subquantizer: Int, _ of: Int) -> Void)? = nil
    ) throws(QuantizationError) -> ProductQuantizer {
        try validate(dimension: data.dimension, m: m, bits: bits)
        let ksub = 1 << bits
        guard data.rowCount >= ksub else {
            throw .tooFewTrainingVectors(needed: ksub, got: data.rowCount,
                                         what: "a product quantizer (\(ksub) codes per sub-space)")
        }
        let dsub = data.dimension / m
        var table = [Float]()
        table.reserveCapacity(data.dimension * ksub)
        for sub in 0 ..< m {
            var parameters = KMeansParameters(centroidCount: ksub)
            parameters.iterations = iterations
            parameters.seed = seed &+ UInt64(sub)
            parameters.threads = threads
            let result = try trainKMeans(subspace(data, sub, dsub), parameters)
            table.append(contentsOf: result.centroids.values)
            progress?(sub + 1, m)
        }
        return try ProductQuantizer(dimension: data.dimension, subquantizerCount: m, bitsPerCode: bits, centroids: table)
    }

    /// Columns `[sub·dsub, (sub+1)·dsub)` of `data` as an `n × dsub` matrix.
    static func subspace(_ data: Matrix, _ sub: Int, _ dsub: Int) -> Matrix {
        var result = Matrix(zeros: data.rowCount, dimension: dsub)
        let dimension = data.dimension
        data.withUnsafeBufferPointer { source in
            result.withUnsafeMutableBufferPointer { target in
                for row in 0 ..< data.rowCount {
                    for j in 0 ..< dsub { target[row * dsub + j] = source[row * dimension + sub * dsub + j] }
                }
            }
        }
        return result
    }

    /// The `ksub` centroids of sub-quantizer `sub` as a `ksub × dsub` matrix.
    public func codebook(_ sub: Int) -> Matrix {
        let size = centroidsPerSubspace * subDimension
        // The shape is valid by construction.
        return try! Matrix(dimension: subDimension, values: Array(centroids[sub * size ..< (sub + 1) * size]))
    }

    /// Encodes every row: `n × m` bytes, row-major.
    public func encode(_ data: Matrix, threads: Int = 1) throws(QuantizationError) -> [UInt8] {
        guard data.dimension == dimension else { throw .dimensionMismatch(expected: dimension, got: data.dimension) }
        let count = data.rowCount, m = subquantizerCount
        var codes = [UInt8](repeating: 0, count: count * m)
        for sub in 0 ..< m {
            let (labels, _) = assignNearest(ProductQuantizer.subspace(data, sub, subDimension), to: codebook(sub), threads: threads)
            for row in 0 ..< count { codes[row * m + sub] = UInt8(truncatingIfNeeded: labels[row]) }
        }
        return codes
    }

    /// Reconstructs vectors from `n × m` codes.
    public func decode(_ codes: [UInt8]) -> Matrix {
        let m = subquantizerCount, dsub = subDimension
        let count = codes.count / m
        var result = Matrix(zeros: count, dimension: dimension)
        result.withUnsafeMutableBufferPointer { target in
            for row in 0 ..< count {
                for sub in 0 ..< m {
                    let centroid = (sub * centroidsPerSubspace + Int(codes[row * m + sub])) * dsub
                    for j in 0 ..< dsub { target[row * dimension + sub * dsub + j] = centroids[centroid + j] }
                }
            }
        }
        return result
    }

    /// Fills `table` (`m × ksub` floats) with the squared L2 distance of each query sub-vector to
    /// each sub-centroid: the asymmetric distance (ADC) of a code is then the sum of `m` lookups.
    public func squaredL2Table(_ query: UnsafePointer<Float>, into table: UnsafeMutablePointer<Float>) {
        fillTable(query, into: table, squaredL2)
    }

    /// Fills `table` (`m × ksub`) with `⟨query_sub, centroid⟩` for each sub-space.
    public func innerProductTable(_ query: UnsafePointer<Float>, into table: UnsafeMutablePointer<Float>) {
        fillTable(query, into: table, dotProduct)
    }

    private func fillTable(_ query: UnsafePointer<Float>, into table: UnsafeMutablePointer<Float>,
                           _ kernel: (UnsafePointer<Float>, UnsafePointer<Float>, Int) -> Float) {
        let dsub = subDimension, ksub = centroidsPerSubspace
        centroids.withUnsafeBufferPointer { buffer in
            let base = buffer.baseAddress!
            for sub in 0 ..< subquantizerCount {
                let queryPart = query + sub * dsub
                let block = base + sub * ksub * dsub
                let row = table + sub * ksub
                for c in 0 ..< ksub {
                    row[c] = kernel(queryPart, block + c * dsub, dsub)
                }
            }
        }
    }

    /// Mean squared reconstruction error `‖x − decode(encode(x))‖²` over the rows of `data`.
    public func reconstructionError(_ data: Matrix) throws(QuantizationError) -> Double {
        let decoded = decode(try encode(data))
        var total = 0.0
        data.withUnsafeBufferPointer { a in
            decoded.withUnsafeBufferPointer { b in
                for row in 0 ..< data.rowCount {
                    total += Double(squaredL2(a.baseAddress! + row * dimension, b.baseAddress! + row * dimension, dimension))
                }
            }
        }
        return total / Double(max(1, data.rowCount))
    }
}

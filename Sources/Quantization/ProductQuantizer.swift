import VectorMath

/// A product quantizer: the vector is cut into `m` sub-vectors of `dsub = d / m` components and
/// each is replaced by the index of its nearest of 256 sub-centroids, giving an `m`-byte code
/// (Jégou, Douze & Schmid 2011; `ProductQuantizer` in FAISS with `nbits = 8`).
///
/// Centroid table: `m × 256 × dsub` floats, layout `(m, ksub, dsub)`. Memory: `d × 256 × 4` bytes.
public struct ProductQuantizer: Sendable, Equatable {
    /// Codes per sub-quantizer (8-bit codes).
    public static let centroidsPerSubspace = 256

    public let dimension: Int
    /// Number of sub-quantizers (`M` in FAISS, `--m`); also the code size in bytes.
    public let subquantizerCount: Int
    public var subDimension: Int { dimension / subquantizerCount }
    public var codeSize: Int { subquantizerCount }
    /// Layout `(m, 256, dsub)`.
    public private(set) var centroids: [Float]

    /// Checks the shape; use `train` to learn the centroids.
    public init(dimension: Int, subquantizerCount m: Int, centroids: [Float]) throws(QuantizationError) {
        try ProductQuantizer.validate(dimension: dimension, m: m)
        guard centroids.count == dimension * ProductQuantizer.centroidsPerSubspace else {
            throw .dimensionMismatch(expected: dimension * ProductQuantizer.centroidsPerSubspace, got: centroids.count)
        }
        self.dimension = dimension
        self.subquantizerCount = m
        self.centroids = centroids
    }

    public static func validate(dimension: Int, m: Int) throws(QuantizationError) {
        guard m >= 1, m <= dimension else {
            throw .invalidParameter(name: "m", value: m, allowed: "use 1 ≤ m ≤ d (= \(dimension))")
        }
        guard dimension % m == 0 else { throw .subquantizerCountDoesNotDivide(dimension: dimension, m: m) }
    }

    /// Trains one k-means (256 centroids) per sub-space.
    /// - Complexity: `m` k-means runs of `2 · n · 256 · dsub` flops per iteration.
    public static func train(
        _ data: Matrix, m: Int, iterations: Int = 25, seed: UInt64 = 1234, threads: Int = 1,
        progress: (@Sendable (_ subquantizer: Int, _ of: Int) -> Void)? = nil
    ) throws(QuantizationError) -> ProductQuantizer {
        try validate(dimension: data.dimension, m: m)
        guard data.rowCount >= centroidsPerSubspace else {
            throw .tooFewTrainingVectors(needed: centroidsPerSubspace, got: data.rowCount,
                                         what: "a product quantizer (256 codes per sub-space)")
        }
        let dsub = data.dimension / m
        var table = [Float]()
        table.reserveCapacity(data.dimension * centroidsPerSubspace)
        for sub in 0 ..< m {
            var parameters = KMeansParameters(centroidCount: centroidsPerSubspace)
            parameters.iterations = iterations
            parameters.seed = seed &+ UInt64(sub)
            parameters.threads = threads
            let result = try trainKMeans(subspace(data, sub, dsub), parameters)
            table.append(contentsOf: result.centroids.values)
            progress?(sub + 1, m)
        }
        return try ProductQuantizer(dimension: data.dimension, subquantizerCount: m, centroids: table)
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

    /// The 256 centroids of sub-quantizer `sub` as a `256 × dsub` matrix.
    public func codebook(_ sub: Int) -> Matrix {
        let size = ProductQuantizer.centroidsPerSubspace * subDimension
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
                    let centroid = (sub * ProductQuantizer.centroidsPerSubspace + Int(codes[row * m + sub])) * dsub
                    for j in 0 ..< dsub { target[row * dimension + sub * dsub + j] = centroids[centroid + j] }
                }
            }
        }
        return result
    }

    /// Fills `table` (`m × 256` floats) with the squared L2 distance of each query sub-vector to
    /// each sub-centroid: the asymmetric distance (ADC) of a code is then the sum of `m` lookups.
    public func squaredL2Table(_ query: UnsafePointer<Float>, into table: UnsafeMutablePointer<Float>) {
        fillTable(query, into: table, squaredL2)
    }

    /// Fills `table` (`m × 256`) with `⟨query_sub, centroid⟩` for each sub-space.
    public func innerProductTable(_ query: UnsafePointer<Float>, into table: UnsafeMutablePointer<Float>) {
        fillTable(query, into: table, dotProduct)
    }

    private func fillTable(_ query: UnsafePointer<Float>, into table: UnsafeMutablePointer<Float>,
                           _ kernel: (UnsafePointer<Float>, UnsafePointer<Float>, Int) -> Float) {
        let dsub = subDimension
        centroids.withUnsafeBufferPointer { buffer in
            let base = buffer.baseAddress!
            for sub in 0 ..< subquantizerCount {
                let queryPart = query + sub * dsub
                let block = base + sub * ProductQuantizer.centroidsPerSubspace * dsub
                let row = table + sub * ProductQuantizer.centroidsPerSubspace
                for c in 0 ..< ProductQuantizer.centroidsPerSubspace {
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

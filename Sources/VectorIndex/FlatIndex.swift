import VectorMath

/// Exact search over all stored vectors (`IndexFlat` in FAISS): the reference for recall and
/// for tests. Memory: `(4d + 8)` bytes per vector.
public struct FlatIndex: Sendable {
    public let metric: Metric
    public private(set) var vectors: Matrix
    public private(set) var ids: [UInt64]

    public init(dimension: Int, metric: Metric = .l2) {
        self.metric = metric
        self.vectors = Matrix(zeros: 0, dimension: dimension)
        self.ids = []
    }

    public var count: Int { ids.count }
    public var dimension: Int { vectors.dimension }

    public mutating func add(_ batch: Matrix, ids newIDs: [VectorID]) throws(VectorIndexError) {
        guard batch.dimension == dimension else { throw .dimensionMismatch(expected: dimension, got: batch.dimension) }
        guard batch.rowCount == newIDs.count else { throw .idCountMismatch(vectors: batch.rowCount, ids: newIDs.count) }
        if let row = batch.firstNonFiniteRow() { throw .nonFinite(what: "input", row: row) }
        do { try vectors.append(batch) } catch { throw .dimensionMismatch(expected: dimension, got: batch.dimension) }
        ids.append(contentsOf: newIDs.map(\.rawValue))
    }

    public func search(_ queries: Matrix, k: Int, threads: Int = 1,
                       progress: ProgressHandler? = nil) throws(VectorIndexError) -> [[Neighbor]] {
        guard queries.dimension == dimension else { throw .dimensionMismatch(expected: dimension, got: queries.dimension) }
        if let row = queries.firstNonFiniteRow() { throw .nonFinite(what: "query", row: row) }
        guard count > 0 else { throw .emptyIndex }
        guard k >= 1, k <= count else { throw .invalidK(k: k, available: count) }
        do {
            return try exactSearch(queries: queries, base: vectors, ids: ids, k: k, metric: metric,
                                   threads: resolvedThreadCount(threads), progress: progress)
        } catch {
            throw .invalidParameter(error.description)
        }
    }
}

import Wire

/// Limits every service applies to a search before any work.
public enum SearchLimits {
    /// Largest k a search may ask for.
    public static let maxK = 10_000
}

/// Checks a search's vectors before any work: dimension and finiteness.
public func validateQueries(_ batch: VectorBatch, dimension: Int) throws(ErrorReply) {
    guard batch.dimension == dimension else {
        throw ErrorReply(.badRequest, "wrong dimension: the collection holds \(dimension)-d vectors, got \(batch.dimension)-d")
    }
    guard batch.count > 0, batch.values.count == batch.count * dimension else {
        throw ErrorReply(.badRequest, "\(batch.values.count) values do not make whole \(dimension)-d vectors")
    }
    if let position = batch.values.firstIndex(where: { !$0.isFinite }) {
        throw ErrorReply(.badRequest, "vector \(position / dimension) holds NaN or infinity: clean or drop it")
    }
}

/// Checks a search's k, nprobe and refine against the index it will run on; the coordinator and
/// every worker apply the same rules.
public func validateSearchOptions(_ options: SearchOptions, listCount: Int, storesVectors: Bool) throws(ErrorReply) {
    guard options.k >= 1, options.k <= SearchLimits.maxK else {
        throw ErrorReply(.badRequest, "k = \(options.k) is out of range: use 1…\(SearchLimits.maxK)")
    }
    guard options.nprobe >= 1, options.nprobe <= listCount else {
        throw ErrorReply(.badRequest, "nprobe = \(options.nprobe) is out of range: it must be between 1 and nlist = \(listCount)")
    }
    guard options.refine <= 1 || storesVectors else {
        throw ErrorReply(.badRequest, "refine needs stored vectors: set store_vectors = true in [index]")
    }
}

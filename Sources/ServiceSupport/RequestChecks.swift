import Wire

/// Limits every service applies to a request before any work (docs/PROTOCOL.md lists them).
public enum RequestLimits {
    /// Largest k a search may ask for.
    public static let maxK = 10_000
    /// Largest refine factor: k × refine candidates are kept per query.
    public static let maxRefine = 64
    /// Largest queries × k × max(1, refine) of one search: bounds a search's memory (12 bytes a
    /// slot) and keeps its reply well under the 64 MiB frame limit.
    public static let maxResultSlots = 2_000_000
    /// Most vector values one fetch may return: 32 M floats (128 MiB), half the reply limit.
    public static let maxFetchedValues = 32 << 20
    /// Largest deadline a request may carry: 10 minutes.
    public static let maxDeadlineMilliseconds: UInt32 = 600_000
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

/// Checks that the vectors of `count` ids fit a reply before any is gathered.
public func checkFetchSize(_ count: Int, dimension: Int) throws(ErrorReply) {
    // count is bounded by the frame (8 bytes an id) and dimension by the index file: no overflow.
    guard count * dimension <= RequestLimits.maxFetchedValues else {
        throw ErrorReply(.badRequest, "\(count) vectors of \(dimension) values exceed \(RequestLimits.maxFetchedValues) values per fetch: "
            + "fetch fewer ids at a time")
    }
}

/// Checks a search's k, nprobe and refine against the index it will run on and the number of
/// queries; the coordinator and every worker apply the same rules.
public func validateSearchOptions(_ options: SearchOptions, queryCount: Int, listCount: Int,
                                  storesVectors: Bool) throws(ErrorReply) {
    guard options.k >= 1, options.k <= RequestLimits.maxK else {
        throw ErrorReply(.badRequest, "k = \(options.k) is out of range: use 1…\(RequestLimits.maxK)")
    }
    guard options.refine >= 0, options.refine <= RequestLimits.maxRefine else {
        throw ErrorReply(.badRequest, "refine = \(options.refine) is out of range: use 0 (off) to \(RequestLimits.maxRefine)")
    }
    // k ≤ 10,000 and refine ≤ 64: the product cannot overflow; queryCount is bounded by the frame.
    let slots = queryCount.multipliedReportingOverflow(by: options.k * max(1, options.refine))
    guard !slots.overflow, slots.partialValue <= RequestLimits.maxResultSlots else {
        throw ErrorReply(.badRequest, "\(queryCount) queries × k \(options.k)\(options.refine > 1 ? " × refine \(options.refine)" : "") "
            + "is above \(RequestLimits.maxResultSlots) results per request: send fewer queries per batch")
    }
    guard options.nprobe >= 1, options.nprobe <= listCount else {
        throw ErrorReply(.badRequest, "nprobe = \(options.nprobe) is out of range: it must be between 1 and nlist = \(listCount)")
    }
    guard SearchOptions.isValidProbeRatio(options.probeRatio) else {
        throw ErrorReply(.badRequest, "probe_ratio = \(options.probeRatio) is out of range: "
                                      + "use 0 (off) or 1…\(Int(SearchOptions.maxProbeRatio))")
    }
    guard options.refine <= 1 || storesVectors else {
        throw ErrorReply(.badRequest, "refine needs stored vectors: set store_vectors = true in [index]")
    }
    // The coordinator sends every shard queries × nprobe probes: bounded like the result slots.
    let probes = queryCount.multipliedReportingOverflow(by: options.nprobe)
    guard !probes.overflow, probes.partialValue <= RequestLimits.maxResultSlots else {
        throw ErrorReply(.badRequest, "\(queryCount) queries × nprobe \(options.nprobe) is above \(RequestLimits.maxResultSlots) "
            + "probed lists per request: send fewer queries per batch")
    }
    // Probe lists, when given, hold nprobe lists and terms per query (compared by division: no product can overflow).
    if !options.probeLists.isEmpty || !options.probeTerms.isEmpty {
        guard options.probeLists.count % options.nprobe == 0, options.probeLists.count / options.nprobe == queryCount,
              options.probeTerms.count == options.probeLists.count,
              options.probeLists.allSatisfy({ Int($0) < listCount }), options.probeTerms.allSatisfy(\.isFinite) else {
            throw ErrorReply(.badRequest, "probe lists must give \(options.nprobe) lists below \(listCount) and as many finite terms "
                + "for each of the \(queryCount) queries; got \(options.probeLists.count) lists and \(options.probeTerms.count) terms")
        }
    }
}

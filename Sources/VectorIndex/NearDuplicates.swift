import VectorMath

/// How `findNearDuplicates` builds its index.
public struct DedupSettings: Sendable {
    /// Pairs whose squared L2 distance is at most this are duplicates.
    public var radius: Float
    /// Inverted lists (0: about 4·√n).
    public var listCount = 0
    /// PQ sub-quantizers (0: d/8, or the largest divisor of d not above d/4).
    public var subquantizerCount = 0
    public var probeCount = 8
    public var threads = 0
    public var seed: UInt64 = 1
    public init(radius: Float) { self.radius = radius }
}

public struct DedupResult: Sendable {
    public var pairs: [RowPair]
    public var candidateRadius: Float
    public var listCount: Int
    public var subquantizerCount: Int
    public var indexSeconds: Double
    public var searchSeconds: Double
}

/// All pairs of rows within `settings.radius`, through an IVF-PQ index over the rows themselves:
/// each row range-searches the index (ADC screen, exact refine on the stored vectors), and the
/// pairs found from either end are merged. Approximate only in what ADC screens out.
public func findNearDuplicates(_ vectors: Matrix, settings: DedupSettings, progress: ProgressHandler? = nil) throws -> DedupResult {
    let n = vectors.rowCount, d = vectors.dimension
    guard n >= 256 else {
        throw VectorIndexError.invalidParameter("dedup through the index needs at least 256 vectors (got \(n)); use --exact")
    }
    guard settings.radius.isFinite, settings.radius >= 0 else {
        throw VectorIndexError.invalidParameter("the threshold must be a finite number ≥ 0")
    }
    let lists = settings.listCount > 0 ? settings.listCount : max(1, min(n / 39, Int(4 * Double(n).squareRoot())))
    let m = settings.subquantizerCount > 0 ? settings.subquantizerCount : defaultSubquantizers(dimension: d)
    let threads = resolvedThreadCount(settings.threads)
    var training = IVFPQTraining()
    // Lists only need to group neighbours, not minimise the objective: 10 Lloyd rounds suffice.
    training.iterations = 10
    training.seed = settings.seed
    training.threads = threads
    let (index, indexSeconds) = try measureSeconds { () throws -> IVFPQIndex in
        var index = try IVFPQIndex.train(vectors, configuration: IVFPQConfiguration(dimension: d, listCount: lists,
                                                                                    subquantizerCount: m, storesVectors: true),
                                         training: training)
        try index.add(vectors, ids: (0 ..< n).map { VectorID(UInt64($0)) }, threads: threads)
        return index
    }
    let candidateRadius = index.candidateRadius(for: settings.radius)
    let parameters = RangeSearchParameters(radius: settings.radius, candidateRadius: candidateRadius,
                                           probeCount: min(settings.probeCount, lists), threads: threads)
    let (pairs, searchSeconds) = try measureSeconds { () throws -> [RowPair] in
        // Keyed by the pair alone: found from both ends, a pair is kept once.
        var found: [Int: RowPair] = [:]
        let chunk = 4096
        for start in stride(from: 0, to: n, by: chunk) {
            let rows = Array(start ..< min(n, start + chunk))
            let neighbours = try index.rangeSearch(vectors.rows(at: rows), parameters: parameters)
            for (row, list) in zip(rows, neighbours) {
                for neighbour in list where Int(neighbour.id.rawValue) != row {
                    let other = Int(neighbour.id.rawValue)
                    let pair = RowPair(first: min(row, other), second: max(row, other), distance: neighbour.distance)
                    found[pair.first * n + pair.second] = pair
                }
            }
            progress?(rows.last! + 1, n)
        }
        return found.values.sorted { ($0.first, $0.second) < ($1.first, $1.second) }
    }
    return DedupResult(pairs: pairs, candidateRadius: candidateRadius, listCount: lists, subquantizerCount: m,
                       indexSeconds: indexSeconds, searchSeconds: searchSeconds)
}

/// d/8 sub-quantizers when 8 divides d, else the largest divisor of d not above d/4.
func defaultSubquantizers(dimension: Int) -> Int {
    if dimension % 8 == 0 { return dimension / 8 }
    return (1 ... max(1, dimension / 4)).last { dimension % $0 == 0 } ?? 1
}

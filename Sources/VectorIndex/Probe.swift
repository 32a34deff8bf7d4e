/// The number of an inverted list, `0 ..< nlist`. Its own type so that it never mixes with
/// vector ids, which also travel as integers.
public struct ListNumber: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    public init(_ rawValue: Int) { self.rawValue = rawValue }
    public static func < (lhs: ListNumber, rhs: ListNumber) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { String(rawValue) }
}

/// One list a query visits, with the query-to-centroid term (`‖q − c‖²` for L2, `−⟨q, c⟩` for
/// inner product) that every code in the list adds.
public struct Probe: Sendable, Equatable {
    public var list: ListNumber
    public var centroidDistance: Float

    public init(list: ListNumber, centroidDistance: Float) {
        self.list = list
        self.centroidDistance = centroidDistance
    }
}

extension Array where Element == Probe {
    /// The probes, nearest first, cut where the centroid distance passes `ratio` times the
    /// `SearchParameters.probeRatioReference`-th (see `SearchParameters.probeRatio`); 0 keeps all.
    func cut(atRatio ratio: Float) -> [Probe] {
        guard ratio > 0, count > SearchParameters.probeRatioReference else { return self }
        let bar = ratio * self[SearchParameters.probeRatioReference - 1].centroidDistance
        var end = SearchParameters.probeRatioReference
        while end < count, self[end].centroidDistance <= bar { end += 1 }
        return end == count ? self : Array(self[..<end])
    }
}

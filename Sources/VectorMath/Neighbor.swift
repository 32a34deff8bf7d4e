/// A vector's identifier as the user gave it. Its own type so that it never mixes with row
/// numbers, list numbers or shard ids.
public struct VectorID: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    public static func < (lhs: VectorID, rhs: VectorID) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { String(rawValue) }
}

/// One search result: a vector id and its distance to the query (lower is better).
///
/// Ordered by distance, then by id, so that equal distances always rank the same way on a single
/// node and in a cluster merge.
public struct Neighbor: Hashable, Comparable, Sendable {
    public var distance: Float
    public var id: VectorID

    public init(distance: Float, id: VectorID) {
        self.distance = distance
        self.id = id
    }

    @inlinable
    public static func < (lhs: Neighbor, rhs: Neighbor) -> Bool {
        lhs.distance < rhs.distance || (lhs.distance == rhs.distance && lhs.id.rawValue < rhs.id.rawValue)
    }
}

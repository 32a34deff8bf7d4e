import VectorMath
import Wire

/// The one conversion between the index's results and the wire's lists.
extension NeighborList {
    public init(_ neighbors: [Neighbor]) {
        self.init(ids: neighbors.map(\.id.rawValue), distances: neighbors.map(\.distance))
    }

    /// The list as neighbours, best first (a list whose arrays differ in length is cut to the shorter).
    public var neighbors: [Neighbor] {
        zip(ids, distances).map { Neighbor(distance: $1, id: VectorID($0)) }
    }
}

/// Keeps the `k` best (lowest distance, then lowest id) of a stream of candidates.
///
/// A binary max-heap on parallel arrays: the worst kept candidate sits at the root, so a candidate
/// that cannot enter is rejected with one comparison (`worstDistance`).
/// - Complexity: O(log k) per accepted candidate, O(1) per rejected one.
public struct TopK: Sendable {
    public let capacity: Int
    @usableFromInline var distances: [Float]
    @usableFromInline var ids: [UInt64]
    /// A caller's value carried with each candidate (where the vector lives), not ranked on.
    @usableFromInline var payloads: [UInt64]

    public init(k: Int) {
        precondition(k > 0, "k must be positive")
        capacity = k
        distances = []
        ids = []
        payloads = []
        distances.reserveCapacity(k)
        ids.reserveCapacity(k)
        payloads.reserveCapacity(k)
    }

    public var count: Int { distances.count }

    /// The distance a candidate must beat (or tie with a lower id) to enter; `+∞` until full.
    @inlinable
    public var worstDistance: Float { distances.count < capacity ? .infinity : distances[0] }

    @inlinable
    static func worse(_ d1: Float, _ id1: UInt64, than d2: Float, _ id2: UInt64) -> Bool {
        d1 > d2 || (d1 == d2 && id1 > id2)
    }

    /// Offers one candidate.
    @inlinable
    public mutating func insert(distance: Float, id: UInt64, payload: UInt64 = 0) {
        if distances.count < capacity {
            distances.append(distance)
            ids.append(id)
            payloads.append(payload)
            siftUp(distances.count - 1)
        } else if TopK.worse(distances[0], ids[0], than: distance, id) {
            distances[0] = distance
            ids[0] = id
            payloads[0] = payload
            siftDown(0)
        }
    }

    @inlinable
    public mutating func insert(_ neighbor: Neighbor) {
        insert(distance: neighbor.distance, id: neighbor.id.rawValue)
    }

    @usableFromInline
    mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard TopK.worse(distances[child], ids[child], than: distances[parent], ids[parent]) else { break }
            distances.swapAt(child, parent)
            ids.swapAt(child, parent)
            payloads.swapAt(child, parent)
            child = parent
        }
    }

    @usableFromInline
    mutating func siftDown(_ start: Int) {
        var parent = start
        let count = distances.count
        while true {
            let left = 2 * parent + 1
            if left >= count { break }
            var largest = left
            let right = left + 1
            if right < count, TopK.worse(distances[right], ids[right], than: distances[left], ids[left]) {
                largest = right
            }
            guard TopK.worse(distances[largest], ids[largest], than: distances[parent], ids[parent]) else { break }
            distances.swapAt(parent, largest)
            ids.swapAt(parent, largest)
            payloads.swapAt(parent, largest)
            parent = largest
        }
    }

    /// The kept candidates with their payloads, best first.
    public func sortedWithPayloads() -> [(neighbor: Neighbor, payload: UInt64)] {
        (0 ..< distances.count)
            .map { (Neighbor(distance: distances[$0], id: VectorID(ids[$0])), payloads[$0]) }
            .sorted { $0.neighbor < $1.neighbor }
    }

    /// The kept candidates, best first.
    public func sorted() -> [Neighbor] {
        (0 ..< distances.count)
            .map { Neighbor(distance: distances[$0], id: VectorID(ids[$0])) }
            .sorted()
    }
}

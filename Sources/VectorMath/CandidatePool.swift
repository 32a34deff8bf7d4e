/// Keeps the `k` best (lowest distance, then lowest id) of a stream of candidates, as `TopK`
/// does, with a cheaper insertion: candidates are appended to a buffer of `2k`, and when it fills
/// the `k` best are selected (quickselect) and the `k`-th distance becomes the bar. A scan that
/// offers many candidates (the ADC scan before refine) pays O(1) amortised per candidate instead
/// of a heap's O(log k) (`ReservoirTopN` in FAISS's fast-scan).
///
/// The kept set is exactly `TopK`'s: a candidate is only dropped once `k` better ones are held.
public struct CandidatePool: Sendable {
    public let capacity: Int
    @usableFromInline var entries: [Entry]
    /// The distance a candidate must not exceed to be taken; `+∞` until the first selection.
    @usableFromInline var bar: Float = .infinity

    @usableFromInline
    struct Entry: Sendable {
        @usableFromInline var distance: Float
        @usableFromInline var id: UInt64
        @usableFromInline var payload: UInt64

        @usableFromInline
        init(distance: Float, id: UInt64, payload: UInt64) {
            self.distance = distance
            self.id = id
            self.payload = payload
        }

        @inlinable
        func isBetter(than other: Entry) -> Bool {
            distance < other.distance || (distance == other.distance && id < other.id)
        }
    }

    public init(k: Int) {
        precondition(k > 0, "k must be positive")
        capacity = k
        entries = []
        entries.reserveCapacity(2 * k)
    }

    /// A candidate farther than this can not enter (the scans skip it unseen).
    @inlinable
    public var worstDistance: Float { bar }

    @inlinable
    public mutating func insert(distance: Float, id: UInt64, payload: UInt64 = 0) {
        guard distance <= bar else { return }
        entries.append(Entry(distance: distance, id: id, payload: payload))
        if entries.count == 2 * capacity { shrinkToCapacity() }
    }

    /// Keeps the `k` best entries (in no order) and raises the bar to the worst of them.
    @usableFromInline
    mutating func shrinkToCapacity() {
        guard entries.count > capacity else { return }
        entries.withUnsafeMutableBufferPointer { buffer in
            CandidatePool.select(buffer, rank: capacity - 1)
        }
        entries.removeLast(entries.count - capacity)
        bar = entries[capacity - 1].distance
    }

    /// Reorders `buffer` so that position `rank` holds the entry a full sort would put there,
    /// the better ones before it, the worse after (Hoare's quickselect, median-of-three pivots).
    static func select(_ buffer: UnsafeMutableBufferPointer<Entry>, rank: Int) {
        var low = 0, high = buffer.count - 1
        while low < high {
            let middle = low + (high - low) / 2
            // Median of three at `middle`.
            if buffer[middle].isBetter(than: buffer[low]) { buffer.swapAt(middle, low) }
            if buffer[high].isBetter(than: buffer[low]) { buffer.swapAt(high, low) }
            if buffer[high].isBetter(than: buffer[middle]) { buffer.swapAt(high, middle) }
            let pivot = buffer[middle]
            var i = low, j = high
            while i <= j {
                while buffer[i].isBetter(than: pivot) { i += 1 }
                while pivot.isBetter(than: buffer[j]) { j -= 1 }
                if i <= j {
                    buffer.swapAt(i, j)
                    i += 1
                    j -= 1
                }
            }
            if rank <= j { high = j } else if rank >= i { low = i } else { return }
        }
    }

    /// The kept candidates with their payloads, best first.
    public func sortedWithPayloads() -> [(neighbor: Neighbor, payload: UInt64)] {
        var copy = self
        copy.shrinkToCapacity()
        return copy.entries.sorted { $0.isBetter(than: $1) }
            .map { (Neighbor(distance: $0.distance, id: VectorID($0.id)), $0.payload) }
    }

    /// The kept candidates, best first.
    public func sorted() -> [Neighbor] {
        sortedWithPayloads().map(\.neighbor)
    }
}

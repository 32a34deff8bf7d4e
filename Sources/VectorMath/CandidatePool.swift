import CSIMDKernels

/// Keeps the `k` best (lowest distance, then lowest id) of a stream of candidates, as `TopK`
/// does, with a cheaper insertion: candidates are appended to a buffer of `2k`, and when it fills
/// the `k`-th smallest distance is selected (quickselect on the distances alone) and becomes the
/// bar; entries farther than it are dropped. A scan that offers many candidates (the ADC scan
/// before refine) pays O(1) amortised per candidate instead of a heap's O(log k)
/// (`ReservoirTopN` in FAISS's fast-scan).
///
/// The kept set is exactly `TopK`'s: a candidate is only dropped once `k` better ones are held.
/// Entries tied at the bar stay until the final ranking (by distance, then id) decides.
public struct CandidatePool: Sendable {
    public let capacity: Int
    @usableFromInline var distances: [Float]
    @usableFromInline var ids: [UInt64]
    @usableFromInline var payloads: [UInt64]
    /// Room for the selection, so that it leaves the entries in arrival order.
    @usableFromInline var selection: [Float]
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
        distances = []
        ids = []
        payloads = []
        selection = []
        distances.reserveCapacity(2 * k)
        ids.reserveCapacity(2 * k)
        payloads.reserveCapacity(2 * k)
    }

    /// A candidate farther than this can not enter (the scans skip it unseen).
    @inlinable
    public var worstDistance: Float { bar }

    @inlinable
    public mutating func insert(distance: Float, id: UInt64, payload: UInt64 = 0) {
        guard distance <= bar else { return }
        distances.append(distance)
        ids.append(id)
        payloads.append(payload)
        if distances.count >= 2 * capacity { dropBeyondBar() }
    }

    /// Lowers the bar to the `k`-th smallest distance held and drops the entries beyond it.
    /// When ties at the bar keep the buffer full, the `k` best by (distance, id) are kept.
    @usableFromInline
    mutating func dropBeyondBar() {
        let count = distances.count
        guard count > capacity else { return }
        if selection.count < count { selection = [Float](repeating: 0, count: count) }
        let kth = selection.withUnsafeMutableBufferPointer { selection in
            distances.withUnsafeBufferPointer { selection.baseAddress!.update(from: $0.baseAddress!, count: count) }
            return sightline_select_rank(selection.baseAddress!, count, capacity - 1)
        }
        var kept = 0
        distances.withUnsafeMutableBufferPointer { distances in
            ids.withUnsafeMutableBufferPointer { ids in
                payloads.withUnsafeMutableBufferPointer { payloads in
                    for position in 0 ..< count where distances[position] <= kth {
                        distances[kept] = distances[position]
                        ids[kept] = ids[position]
                        payloads[kept] = payloads[position]
                        kept += 1
                    }
                }
            }
        }
        distances.removeLast(count - kept)
        ids.removeLast(count - kept)
        payloads.removeLast(count - kept)
        bar = kth
        if kept >= 2 * capacity { keepBest() }
    }

    /// Keeps exactly the `k` best entries by (distance, id), in no order.
    @usableFromInline
    mutating func keepBest() {
        guard distances.count > capacity else { return }
        var entries = (0 ..< distances.count).map { Entry(distance: distances[$0], id: ids[$0], payload: payloads[$0]) }
        entries.withUnsafeMutableBufferPointer { CandidatePool.select($0, rank: capacity - 1) }
        entries.removeLast(entries.count - capacity)
        distances = entries.map(\.distance)
        ids = entries.map(\.id)
        payloads = entries.map(\.payload)
        bar = distances[capacity - 1]
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
        (0 ..< distances.count).map { Entry(distance: distances[$0], id: ids[$0], payload: payloads[$0]) }
            .sorted { $0.isBetter(than: $1) }
            .prefix(capacity)
            .map { (Neighbor(distance: $0.distance, id: VectorID($0.id)), $0.payload) }
    }

    /// The kept candidates, best first.
    public func sorted() -> [Neighbor] {
        sortedWithPayloads().map(\.neighbor)
    }
}

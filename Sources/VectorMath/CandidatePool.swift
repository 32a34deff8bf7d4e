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

    /// A pool holding these entries under this bar (what `CandidatePools` hands over).
    init(capacity: Int, distances: [Float], ids: [UInt64], payloads: [UInt64], bar: Float) {
        self.capacity = capacity
        self.distances = distances
        self.ids = ids
        self.payloads = payloads
        self.bar = bar
        selection = []
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
    @usableFromInline
    mutating func dropBeyondBar() {
        let count = distances.count
        guard count > capacity else { return }
        if selection.count < count { selection = [Float](repeating: 0, count: count) }
        let (kept, kth) = selection.withUnsafeMutableBufferPointer { selection in
            distances.withUnsafeMutableBufferPointer { distances in
                ids.withUnsafeMutableBufferPointer { ids in
                    payloads.withUnsafeMutableBufferPointer { payloads in
                        CandidatePool.reduce(distances.baseAddress!, ids.baseAddress!, payloads.baseAddress!, count: count,
                                             capacity: capacity, selection: selection.baseAddress!)
                    }
                }
            }
        }
        distances.removeLast(count - kept)
        ids.removeLast(count - kept)
        payloads.removeLast(count - kept)
        bar = kth
    }

    /// The reduction every pool runs when its buffer fills: selects the `capacity`-th smallest
    /// distance, keeps the entries at or under it (in arrival order) and returns how many with
    /// that bar. When ties at the bar keep the buffer full, exactly the best `capacity` by
    /// (distance, id) are kept. `selection` has room for `count` distances.
    @usableFromInline
    static func reduce(_ distances: UnsafeMutablePointer<Float>, _ ids: UnsafeMutablePointer<UInt64>,
                       _ payloads: UnsafeMutablePointer<UInt64>, count: Int, capacity: Int,
                       selection: UnsafeMutablePointer<Float>) -> (kept: Int, bar: Float) {
        selection.update(from: distances, count: count)
        let kth = sightline_select_rank(selection, count, capacity - 1)
        var kept = 0
        for position in 0 ..< count where distances[position] <= kth {
            distances[kept] = distances[position]
            ids[kept] = ids[position]
            payloads[kept] = payloads[position]
            kept += 1
        }
        guard kept >= 2 * capacity else { return (kept, kth) }
        var entries = (0 ..< kept).map { Entry(distance: distances[$0], id: ids[$0], payload: payloads[$0]) }
        entries.withUnsafeMutableBufferPointer { CandidatePool.select($0, rank: capacity - 1) }
        for (position, entry) in entries.prefix(capacity).enumerated() {
            distances[position] = entry.distance
            ids[position] = entry.id
            payloads[position] = entry.payload
        }
        return (capacity, entries[capacity - 1].distance)
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
        var pool = self
        // Down to about k entries before sorting (the bar keeps ties: the sort decides those).
        pool.dropBeyondBar()
        return pool.rankedEntries()
    }

    func rankedEntries() -> [(neighbor: Neighbor, payload: UInt64)] {
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

/// One `CandidatePool` per query of a batch, in flat buffers: a scan that feeds many queries at
/// once (the list-by-list fast scan) inserts without the arrays' bookkeeping on every candidate.
/// Each row keeps exactly what its own `CandidatePool` would keep, and hands it over as one.
/// One thread uses a set of pools at a time (they share the selection buffer).
public final class CandidatePools {
    public let rows: Int
    public let capacity: Int
    /// Entries a row holds before it is reduced to its best `capacity`.
    @usableFromInline let width: Int
    @usableFromInline let distances: UnsafeMutablePointer<Float>
    @usableFromInline let ids: UnsafeMutablePointer<UInt64>
    @usableFromInline let payloads: UnsafeMutablePointer<UInt64>
    @usableFromInline let counts: UnsafeMutablePointer<Int>
    @usableFromInline let bars: UnsafeMutablePointer<Float>
    @usableFromInline let selection: UnsafeMutablePointer<Float>

    /// `rows` pools of `k` each (`rows · 2k` entries of 20 bytes).
    public init(rows: Int, k: Int) {
        let (width, wide) = k.multipliedReportingOverflow(by: 2)
        let (entries, many) = rows.multipliedReportingOverflow(by: width)
        precondition(rows >= 0 && k > 0 && !wide && !many, "pools need k > 0 and rows · 2k within Int")
        self.rows = rows
        capacity = k
        self.width = width
        distances = .allocate(capacity: entries)
        ids = .allocate(capacity: entries)
        payloads = .allocate(capacity: entries)
        counts = .allocate(capacity: rows)
        counts.initialize(repeating: 0, count: rows)
        bars = .allocate(capacity: rows)
        bars.initialize(repeating: .infinity, count: rows)
        selection = .allocate(capacity: width)
    }

    deinit {
        distances.deallocate()
        ids.deallocate()
        payloads.deallocate()
        counts.deallocate()
        bars.deallocate()
        selection.deallocate()
    }

    /// Row `row`'s bar: a candidate farther than this can not enter.
    @inlinable
    public func worstDistance(_ row: Int) -> Float {
        precondition(row >= 0 && row < rows, "row out of range")
        return bars[row]
    }

    @inlinable
    public func insert(row: Int, distance: Float, id: UInt64, payload: UInt64) {
        precondition(row >= 0 && row < rows, "row out of range")
        guard distance <= bars[row] else { return }
        let slot = row * width + counts[row]
        distances[slot] = distance
        ids[slot] = id
        payloads[slot] = payload
        counts[row] += 1
        if counts[row] == width { reduce(row) }
    }

    @usableFromInline
    func reduce(_ row: Int) {
        let start = row * width
        let (kept, bar) = CandidatePool.reduce(distances + start, ids + start, payloads + start, count: counts[row],
                                               capacity: capacity, selection: selection)
        counts[row] = kept
        bars[row] = bar
    }

    /// Row `row` as a pool of its own (reduced first, so that it hands over about `k` entries).
    public func pool(_ row: Int) -> CandidatePool {
        precondition(row >= 0 && row < rows, "row out of range")
        if counts[row] > capacity { reduce(row) }
        let start = row * width, count = counts[row]
        return CandidatePool(capacity: capacity, distances: Array(UnsafeBufferPointer(start: distances + start, count: count)),
                             ids: Array(UnsafeBufferPointer(start: ids + start, count: count)),
                             payloads: Array(UnsafeBufferPointer(start: payloads + start, count: count)), bar: bars[row])
    }
}

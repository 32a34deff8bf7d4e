/// A rate-limited move (`--rate N` entries a second) copies a page, then waits until the page has
/// taken `entries / N` seconds in all: the copy never runs ahead of the rate, and time the page
/// already spent (export, transfer, catalog) counts toward it.
enum MovePacing {
    /// When a page of `entries` begun at `started` (a `MonotonicClock`'s nanoseconds) may be
    /// followed by the next, or nil when nothing limits it (no rate, an empty page).
    static func pageEnd(started: UInt64, entries: Int, rate: UInt32) -> UInt64? {
        guard rate > 0, entries > 0 else { return nil }
        let nanoseconds = Double(entries) / Double(rate) * 1e9
        let (end, overflow) = started.addingReportingOverflow(UInt64(min(nanoseconds, 1e18)))
        return overflow ? .max : end
    }
}

import Synchronization

/// The latencies of the last `capacity` requests and a running count, for stats replies.
public final class LatencyRecorder: Sendable {
    private let state: Mutex<(samples: [Double], next: Int, total: UInt64)>
    private let capacity: Int

    public init(capacity: Int = 10_000) {
        self.capacity = capacity
        state = Mutex(([], 0, 0))
    }

    public func record(seconds: Double) {
        state.withLock { state in
            if state.samples.count < capacity { state.samples.append(seconds) } else { state.samples[state.next] = seconds }
            state.next = (state.next + 1) % capacity
            state.total += 1
        }
    }

    /// `(count, p50, p95, p99)` in milliseconds over the kept samples.
    public func summary() -> (count: UInt64, p50: Double, p95: Double, p99: Double) {
        let (samples, total) = state.withLock { ($0.samples, $0.total) }
        guard !samples.isEmpty else { return (total, 0, 0, 0) }
        let sorted = samples.sorted()
        func quantile(_ q: Double) -> Double {
            sorted[min(sorted.count - 1, max(0, Int((q * Double(sorted.count)).rounded(.up)) - 1))] * 1000
        }
        return (total, quantile(0.5), quantile(0.95), quantile(0.99))
    }
}

/// Compares two secrets in time independent of where they differ.
public func constantTimeEquals(_ a: String, _ b: String) -> Bool {
    let left = Array(a.utf8), right = Array(b.utf8)
    var difference = UInt8(truncatingIfNeeded: left.count ^ right.count)
    for index in 0 ..< max(left.count, right.count) {
        difference |= (index < left.count ? left[index] : 0) ^ (index < right.count ? right[index] : 0)
    }
    return difference == 0
}

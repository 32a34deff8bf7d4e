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
        return (total, percentile(sorted: sorted, 0.5) * 1000, percentile(sorted: sorted, 0.95) * 1000,
                percentile(sorted: sorted, 0.99) * 1000)
    }
}

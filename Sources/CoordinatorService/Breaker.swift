import ClusterModel
import Dispatch
import VectorMath
import Wire

/// A worker's circuit breaker. Consecutive transport failures (unreachable, connection lost, or a
/// health probe that timed out: nothing came back) open it; while it is open the coordinator sends that
/// worker nothing but the health loop's probe, so a dead or hung worker costs each request
/// nothing instead of a deadline, and a probe that gets an answer closes it.
struct Breaker: Sendable {
    /// Consecutive failures that open the breaker.
    static let threshold = 2
    private(set) var failures = 0
    private(set) var openedAt: DispatchTime?
    var isOpen: Bool { openedAt != nil }

    /// Records whether a call got an answer (an error reply too proves the worker alive).
    mutating func record(answered: Bool) {
        if answered {
            failures = 0
            openedAt = nil
        } else {
            failures += 1
            if failures >= Breaker.threshold, openedAt == nil { openedAt = .now() }
        }
    }

    /// The failure reported instead of a call to a worker whose breaker is open.
    static func refusal(_ shard: ShardID, since openedAt: DispatchTime) -> ErrorReply {
        let seconds = secondsElapsed(since: openedAt.uptimeNanoseconds)
        return ErrorReply(.unavailable, "shard \(shard) is not answering (no reply for \(String(format: "%.1f", seconds)) s; "
                                        + "requests resume when a health probe gets an answer)")
    }
}

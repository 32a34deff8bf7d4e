import ClusterModel
import Foundation
import VectorMath
import Wire

/// A worker's circuit breaker. Consecutive transport failures (unreachable, connection lost, or a
/// health probe that timed out: nothing came back) open it; while it is open the coordinator sends that
/// worker nothing but the health loop's probe, so a dead or hung worker costs each request
/// nothing instead of a deadline, and a probe that gets an answer closes it. Times are a
/// `MonotonicClock`'s nanoseconds.
struct Breaker: Sendable {
    /// Consecutive failures that open the breaker.
    static let threshold = 2
    private(set) var failures = 0
    private(set) var openedAt: UInt64?
    var isOpen: Bool { openedAt != nil }

    /// Records whether a call got an answer at `now` (an error reply too proves the worker alive).
    mutating func record(answered: Bool, at now: UInt64) {
        if answered {
            failures = 0
            openedAt = nil
        } else {
            failures += 1
            if failures >= Breaker.threshold, openedAt == nil { openedAt = now }
        }
    }

    /// The failure reported at `now` instead of a call to a worker whose breaker opened at `openedAt`.
    static func refusal(_ shard: ShardID, openedAt: UInt64, now: UInt64) -> ErrorReply {
        let seconds = secondsElapsed(since: openedAt, now: now)
        return ErrorReply(.unavailable, "shard \(shard) is not answering (no reply for \(String(format: "%.1f", seconds)) s; "
                                        + "requests resume when a health probe gets an answer)")
    }
}

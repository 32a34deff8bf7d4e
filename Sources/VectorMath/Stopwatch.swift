import Dispatch

/// Wall-clock seconds of `body`.
public func measureSeconds<T>(_ body: () throws -> T) rethrows -> (T, Double) {
    let start = DispatchTime.now().uptimeNanoseconds
    let value = try body()
    return (value, secondsElapsed(since: start))
}

/// Seconds from `start` (a `DispatchTime` uptime in nanoseconds) to now, never negative.
///
/// Why saturating: a start stored by one thread and compared with a time another thread read
/// *before* it (outside the lock that orders them) is later than "now"; an unsigned difference
/// then traps (it crashed the progress bar under load). Such a pair means no time has passed.
public func secondsElapsed(since start: UInt64, now: UInt64 = DispatchTime.now().uptimeNanoseconds) -> Double {
    Double(nanosecondsBetween(start, now)) / 1e9
}

/// `end − start` in nanoseconds, 0 when `end` is not after `start` (see `secondsElapsed`).
@inlinable
public func nanosecondsBetween(_ start: UInt64, _ end: UInt64) -> UInt64 {
    end > start ? end - start : 0
}

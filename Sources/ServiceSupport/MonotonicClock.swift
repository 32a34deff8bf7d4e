import Dispatch
import Foundation
import Synchronization

/// The time a service reads and waits on, in nanoseconds of a monotonic count that never goes
/// back. Timers that decide behaviour (breakers, hedging delays, straggler grace, the batching
/// window, move pacing, the health loop) read it through one `MonotonicClock` the service is
/// given, so a test can drive them with a `ManualClock` in microseconds instead of sleeping
/// (the idea of swift-nio's `EmbeddedEventLoop.advanceTime`).
public protocol MonotonicClock: Sendable {
    /// Nanoseconds since some fixed start.
    func now() -> UInt64
    /// Returns once `now()` has reached `deadline`.
    func sleep(until deadline: UInt64)
    /// Waits until `semaphore` is signalled (true) or `now()` reaches `deadline` (false).
    func wait(for semaphore: DispatchSemaphore, until deadline: UInt64) -> Bool
}

extension MonotonicClock {
    /// The instant `milliseconds` from now (saturating: a huge budget is "never", not a wrap).
    public func deadline(afterMilliseconds milliseconds: Int) -> UInt64 {
        let (nanoseconds, tooLong) = UInt64(max(0, milliseconds)).multipliedReportingOverflow(by: 1_000_000)
        let (deadline, overflow) = now().addingReportingOverflow(nanoseconds)
        return tooLong || overflow ? .max : deadline
    }

    /// Sleeps `seconds` of this clock's time.
    public func sleep(seconds: Double) {
        guard seconds > 0 else { return }
        let (deadline, overflow) = now().addingReportingOverflow(UInt64(min(seconds, 1e9) * 1e9))
        sleep(until: overflow ? .max : deadline)
    }

    /// Seconds from `start` to now; 0 if `start` is later (never a trap on a reordered read).
    public func seconds(since start: UInt64) -> Double {
        let now = now()
        return now > start ? Double(now - start) / 1e9 : 0
    }
}

/// The machine's monotonic clock (what `DispatchTime.now()` reads).
public struct SystemClock: MonotonicClock {
    public init() {}

    public func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    public func sleep(until deadline: UInt64) {
        let now = now()
        guard deadline > now else { return }
        Thread.sleep(forTimeInterval: Double(deadline - now) / 1e9)
    }

    public func wait(for semaphore: DispatchSemaphore, until deadline: UInt64) -> Bool {
        semaphore.wait(timeout: DispatchTime(uptimeNanoseconds: deadline)) == .success
    }
}

/// A clock that moves only when a test says so (`advance`). Sleepers and waiters return as soon
/// as the time they wait for is reached; what they wait on otherwise still wakes them. Waiting
/// polls the manual time every 100 µs of real time: meant for tests, where a step of the
/// manual clock then costs well under a millisecond.
public final class ManualClock: MonotonicClock {
    private let current: Atomic<UInt64>
    /// The deadline each thread inside `sleep` or `wait` waits for, by a number of its own (a
    /// test waits for the one it expects before it advances: `awaitWaiter(until:)`).
    private let deadlines = Mutex<(next: Int, waiting: [Int: UInt64])>((0, [:]))

    public init(startingAt start: UInt64 = 1_000_000_000) {
        current = Atomic(start)
    }

    public func now() -> UInt64 { current.load(ordering: .acquiring) }

    /// Moves the time forward by `milliseconds`.
    public func advance(milliseconds: Double) {
        current.wrappingAdd(UInt64(milliseconds * 1e6), ordering: .acquiringAndReleasing)
    }

    /// The deadlines threads sleep or wait for now, earliest first.
    public var waitingFor: [UInt64] { deadlines.withLock { $0.waiting.values.sorted() } }

    /// The number of threads sleeping or waiting on this clock.
    public var waiters: Int { deadlines.withLock { $0.waiting.count } }

    /// Returns once `count` threads sleep or wait on this clock (or after 10 s of real time: a test
    /// that waits for a waiter that never comes fails on its own checks, not here forever).
    public func awaitWaiters(_ count: Int) {
        let limit = DispatchTime.now() + .seconds(10)
        while waiters < count, DispatchTime.now() < limit { usleep(100) }
    }

    /// Returns once some thread waits for exactly `deadline` (or after 10 s of real time): what
    /// the code under test decided to wait for is then known, and advancing past it is exact.
    public func awaitWaiter(until deadline: UInt64) {
        let limit = DispatchTime.now() + .seconds(10)
        while !waitingFor.contains(deadline), DispatchTime.now() < limit { usleep(100) }
    }

    public func sleep(until deadline: UInt64) {
        let token = enter(deadline)
        defer { leave(token) }
        while now() < deadline { usleep(100) }
    }

    public func wait(for semaphore: DispatchSemaphore, until deadline: UInt64) -> Bool {
        let token = enter(deadline)
        defer { leave(token) }
        while true {
            if semaphore.wait(timeout: .now() + .microseconds(100)) == .success { return true }
            if now() >= deadline { return false }
        }
    }

    private func enter(_ deadline: UInt64) -> Int {
        deadlines.withLock { state in
            state.next += 1
            state.waiting[state.next] = deadline
            return state.next
        }
    }

    private func leave(_ token: Int) { deadlines.withLock { _ = $0.waiting.removeValue(forKey: token) } }
}

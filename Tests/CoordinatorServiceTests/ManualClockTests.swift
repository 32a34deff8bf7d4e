import Dispatch
import ServiceSupport
import Testing

/// The clock the coordinator's timers are driven by in these tests.
@Suite struct ManualClockTests {
    @Test func sleepersWakeWhenTheClockReachesTheirTimeAndNotBefore() {
        let clock = ManualClock()
        let start = clock.now()
        let sleeper = Background { clock.sleep(until: start + 5_000_000); return clock.now() }
        clock.awaitWaiters(1)
        clock.advance(milliseconds: 4)
        #expect(!sleeper.isDone || clock.now() >= start + 5_000_000)
        clock.advance(milliseconds: 1)
        #expect(sleeper.result() == start + 5_000_000)
        #expect(clock.waiters == 0)
    }

    @Test func aWaitEndsOnItsSignalOrAtItsDeadline() {
        let clock = ManualClock()
        let semaphore = DispatchSemaphore(value: 0)
        let signalled = Background { clock.wait(for: semaphore, until: clock.now() + 1_000_000_000) }
        clock.awaitWaiters(1)
        semaphore.signal()
        #expect(signalled.result() == true)
        let timedOut = Background { clock.wait(for: semaphore, until: clock.now() + 1_000_000) }
        clock.awaitWaiters(1)
        clock.advance(milliseconds: 1)
        #expect(timedOut.result() == false)
    }

    @Test func deadlinesSaturateAndElapsedTimeIsNeverNegative() {
        let clock = ManualClock()
        #expect(clock.deadline(afterMilliseconds: Int.max) == UInt64.max)
        #expect(clock.deadline(afterMilliseconds: -5) == clock.now())
        #expect(clock.seconds(since: clock.now() + 1_000) == 0)
        let start = clock.now()
        clock.advance(milliseconds: 1500)
        #expect(clock.seconds(since: start) == 1.5)
    }
}

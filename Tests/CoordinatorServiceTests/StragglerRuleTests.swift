import ClusterModel
import Foundation
import ServiceSupport
import Testing
import Wire
@testable import CoordinatorService

@Suite struct StragglerRuleTests {
    static let t: UInt64 = 1_000_000_000
    static let ms: UInt64 = 1_000_000

    @Test func aGroupWaitsForItsStragglerForTheGraceAfterTheFirstCopyApplied() {
        var rule = StragglerRule(groups: [[0, 1], [2]], end: Self.t + 60_000 * Self.ms, graceMilliseconds: 1000)
        #expect(rule.wake(at: Self.t) == rule.end)
        rule.arrived(0, applied: true, at: Self.t)
        rule.arrived(2, applied: true, at: Self.t)
        #expect(rule.wake(at: Self.t) == Self.t + 1000 * Self.ms)
        #expect(!rule.isSettled(at: Self.t + 999 * Self.ms))
        #expect(rule.isSettled(at: Self.t + 1000 * Self.ms))
        // A grace period that has passed is no reason to wake again: the next wake is the deadline.
        #expect(rule.wake(at: Self.t + 1000 * Self.ms) == rule.end)
    }

    @Test func aFailureStartsNoGraceAndEveryAnswerSettlesAtOnce() {
        var rule = StragglerRule(groups: [[0, 1]], end: Self.t + 5000 * Self.ms, graceMilliseconds: 1000)
        rule.arrived(0, applied: false, at: Self.t)
        #expect(rule.wake(at: Self.t) == rule.end)
        #expect(!rule.isSettled(at: Self.t + 4999 * Self.ms))
        rule.arrived(1, applied: true, at: Self.t + 10 * Self.ms)
        #expect(rule.isSettled(at: Self.t + 10 * Self.ms))
    }

    /// Through the pool: a hung copy holds a write for the grace, not for the 60 s deadline.
    @Test func thePoolReturnsAWriteOnceItsHungCopyUsedItsGrace() {
        let workers = FakeWorkers(), clock = ManualClock()
        workers.serve("a", number: 1)
        workers.serve("b", number: 2, hung: true)
        defer { workers.release("b") }
        let pool = workers.pool(clock: clock)
        let calls = ["a", "b"].map { WorkerCall(shard: ShardID(0), url: $0, body: .delete(ids: [7])) }
        let start = clock.now()
        let write = Background { pool.collectWrites(calls, groups: [[0, 1]], deadlineMilliseconds: 60_000, stragglerMilliseconds: 1000) }
        // a applied it: the pool now waits for b until the grace ends, not for the deadline.
        clock.awaitWaiter(until: start + 1000 * Self.ms)
        #expect(!write.isDone)
        clock.advance(milliseconds: 1000)
        let results = write.result()
        #expect(answeredBy(results?[0]) == 1)
        guard case .failure(let late) = results?[1] else { Issue.record("the hung copy answered"); return }
        #expect(late.code == .deadlineExceeded && late.message.contains("did not answer in time"))
    }
}

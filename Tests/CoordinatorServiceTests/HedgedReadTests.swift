import ClusterModel
import Foundation
import ServiceSupport
import Testing
import Wire
@testable import CoordinatorService

@Suite struct HedgedReadTests {
    /// A slow first copy gets a second request only once the hedging delay (20 ms before any read
    /// was timed) has passed on the clock, and the first answer wins.
    @Test func aSlowCopyIsBackedUpAfterTheHedgingDelay() {
        let workers = FakeWorkers(), clock = ManualClock()
        workers.serve("a", number: 1, hung: true)
        workers.serve("b", number: 2)
        defer { workers.release("a") }
        let pool = workers.pool(clock: clock)
        #expect(pool.hedgeDelayMilliseconds == 20)
        let start = clock.now()
        let read = Background { pool.hedgedRead([ShardID(0): .stats], deadlineMilliseconds: 60_000) { _ in ["a", "b"] } }
        clock.awaitWaiter(until: start + 20_000_000)
        #expect(workers.callCount("b") == 0)
        clock.advance(milliseconds: 20)
        #expect(answeredBy(read.result()?[ShardID(0)]) == 2)
        #expect(workers.callCount("b") == 1)
    }

    /// A copy that fails is backed up at once: no delay is waited for.
    @Test func aFailedCopyIsBackedUpWithoutWaiting() {
        let workers = FakeWorkers(), clock = ManualClock()
        workers.serve("b", number: 2)
        let pool = workers.pool(clock: clock)
        let replies = pool.hedgedRead([ShardID(0): .stats, ShardID(1): .stats], deadlineMilliseconds: 60_000) { shard in
            shard == ShardID(0) ? ["gone", "b"] : ["b"]
        }
        #expect(answeredBy(replies[ShardID(0)]) == 2)
        #expect(answeredBy(replies[ShardID(1)]) == 2)
    }

    /// Every copy hung: the read ends at its deadline on the clock, naming the shard.
    @Test func aShardWhoseCopiesAllHangEndsAtTheDeadline() {
        let workers = FakeWorkers(), clock = ManualClock()
        workers.serve("a", number: 1, hung: true)
        defer { workers.release("a") }
        let pool = workers.pool(clock: clock)
        let start = clock.now()
        let read = Background { pool.hedgedRead([ShardID(4): .stats], deadlineMilliseconds: 500) { _ in ["a"] } }
        clock.awaitWaiter(until: start + 20_000_000)        // the hedge, which finds no other copy
        clock.advance(milliseconds: 20)
        clock.awaitWaiter(until: start + 500_000_000)       // then the deadline
        clock.advance(milliseconds: 480)
        guard case .failure(let error) = read.result()?[ShardID(4)] else { Issue.record("answered"); return }
        #expect(error.code == .deadlineExceeded && error.message.contains("shard 4"), "\(error)")
    }
}

import ClusterModel
import Foundation
import ServiceSupport
import Synchronization
import Testing
import Wire
@testable import CoordinatorService

@Suite struct BreakerTests {
    @Test func consecutiveFailuresOpenItAndAnAnswerClosesIt() {
        var breaker = Breaker()
        breaker.record(answered: false, at: 10)
        #expect(!breaker.isOpen)
        breaker.record(answered: true, at: 20)
        breaker.record(answered: false, at: 30)
        #expect(!breaker.isOpen)                 // the answer between reset the count
        breaker.record(answered: false, at: 40)
        #expect(breaker.openedAt == 40)
        breaker.record(answered: false, at: 50)
        #expect(breaker.openedAt == 40)          // opened once, when the threshold was reached
        breaker.record(answered: true, at: 60)
        #expect(!breaker.isOpen && breaker.failures == 0)
    }

    @Test func theRefusalSaysHowLongTheWorkerHasBeenSilent() {
        let reply = Breaker.refusal(ShardID(3), openedAt: 1_000_000_000, now: 3_500_000_000)
        #expect(reply.code == .unavailable)
        #expect(reply.message.contains("shard 3 is not answering (no reply for 2.5 s"), "\(reply.message)")
        // A refusal read before the opening was stored (another thread's clock read) is 0 s, not a trap.
        #expect(Breaker.refusal(ShardID(3), openedAt: 5, now: 4).message.contains("0.0 s"))
    }

    /// Through the pool: a worker that cannot be reached twice is skipped, its refusal counts the
    /// pool clock's time, and a probe that gets an answer closes the breaker.
    @Test func thePoolSkipsASilentWorkerUntilAProbeIsAnswered() {
        let workers = FakeWorkers(), clock = ManualClock(), lines = LogLines()
        let pool = workers.pool(clock: clock, log: lines)
        let call = WorkerCall(shard: ShardID(1), url: "w1", body: .stats)
        for _ in 0 ..< 2 { #expect(answeredBy(pool.call([call], deadlineMilliseconds: 1000)[0]) == nil) }
        #expect(pool.isSkipped("w1"))
        #expect(lines.all == ["shard 1 at w1 stopped answering: requests skip it until a health probe gets an answer"])
        workers.serve("w1", number: 1)
        clock.advance(milliseconds: 2500)
        guard case .failure(let refusal) = pool.call([call], deadlineMilliseconds: 1000)[0] else { Issue.record("sent"); return }
        #expect(refusal.message.contains("no reply for 2.5 s"), "\(refusal.message)")
        #expect(workers.callCount("w1") == 0)    // skipped: nothing was sent
        #expect(answeredBy(pool.call([call], deadlineMilliseconds: 1000, probe: true)[0]) == 1)
        #expect(!pool.isSkipped("w1"))
        #expect(lines.all.last == "shard 1 at w1 answers again")
    }
}

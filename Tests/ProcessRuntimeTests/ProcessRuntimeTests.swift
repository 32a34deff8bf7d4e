import ErrorKinds
import Foundation
import Testing
@testable import ProcessRuntime

@Suite struct ProcessRuntimeTests {
    @Test func glibcTakesTheHeapSettings() {
        #expect(keepFreedMemoryInTheHeap())
    }

    @Test func coreTypeFollowsTheCPUFlags() {
        #expect(BLASCoreType.detected(cpuinfo: "flags\t: fpu sse avx avx2 fma avx512f avx512bw avx512vl avx512dq\n") == "SkylakeX")
        #expect(BLASCoreType.detected(cpuinfo: "flags\t: fpu sse avx avx2 fma\n") == "Haswell")
        #expect(BLASCoreType.detected(cpuinfo: "flags\t: fpu sse sse2\n") == nil)
        #expect(BLASCoreType.detected(cpuinfo: "no flags line") == nil)
    }

    @Test func tokenComesFromTheFlagThenTheFileAndAMissingFileIsBadInput() throws {
        #expect(try TokenSource.resolve(flag: "abc", file: "/nonexistent") == "abc")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("token-\(getpid())").path
        try "  secret\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try TokenSource.resolve(flag: nil, file: path) == "secret")
        do {
            _ = try TokenSource.resolve(flag: nil, file: path + "-missing")
            Issue.record("a missing token file must throw")
        } catch {
            #expect(error.kind == .badInput)
            #expect(error.description.contains("-missing"))
        }
    }
}

@Suite struct BackgroundLaneTests {
    struct Failure: Error {}

    @Test func runsJobsInOrderAtIdlePriorityAndHandsBackResultsAndErrors() throws {
        let lane = BackgroundLane(name: "test-lane")
        #expect(try lane.run { 6 * 7 } == 42)
        #expect(throws: Failure.self) { try lane.run { () throws -> Int in throw Failure() } }
        // SCHED_IDLE (5), or nice 19 where the idle class is refused.
        let policy = try lane.run { sched_getscheduler(0) }
        let nice = try lane.run { getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0) }
        #expect(policy == 5 || nice == 19, "policy \(policy), nice \(nice)")
        // The caller's own thread keeps its priority.
        #expect(sched_getscheduler(0) != 5)
    }
}

/// The progress bar trapped with "arithmetic overflow" under load: a time read before the lock
/// was earlier than the one another thread had just stored. Times that run backwards (as seen
/// from the lock) must mean "no time has passed", never a trap.
@Suite struct ProgressReporterTests {
    final class BackwardsClock: @unchecked Sendable {
        private let lock = NSLock()
        private var now: UInt64 = 10_000_000_000
        func read() -> UInt64 {
            lock.lock()
            defer { lock.unlock() }
            now -= 1_000_000_000
            return now
        }
    }

    @Test func aClockThatRunsBackwardsNeverTraps() {
        let clock = BackwardsClock()
        let reporter = ProgressReporter(enabled: true, clock: { clock.read() })
        reporter.report("backwards", 1, 10)   // prints (a new stage), stores the time
        reporter.report("backwards", 2, 10)   // an earlier time than the stored one
        reporter.report("backwards", 3, 10)
        reporter.report("backwards", 10, 10)  // the last always prints
    }

    @Test func manyThreadsReportAtOnce() {
        let reporter = ProgressReporter(enabled: true)
        DispatchQueue.concurrentPerform(iterations: 8) { thread in
            for done in 0 ..< 20_000 { reporter.report("threads", done, 1_000_000, detail: "\(thread)") }
        }
    }
}

import ClusterModel
import Foundation
import ServiceSupport
import Synchronization
import Testing
import Wire
@testable import CoordinatorService

/// The micro-batcher's window on the manual clock: a batch leaves when the window has passed or
/// when it is full, each query gets its own answer, and a query alone waits for nothing.
@Suite struct SearchBatcherTests {
    /// Searches that answer each query with its first value as an id, the first one held until
    /// `release` (it keeps the batcher busy, so later queries batch).
    final class Backend: Sendable {
        let batches = Mutex<[Int]>([])
        let gate = DispatchSemaphore(value: 0)

        func run(_ batch: VectorBatch, _ options: SearchOptions, _ deadline: Int) throws -> SearchReply {
            let first = batches.withLock { $0.append(batch.count); return $0.count == 1 }
            if first { gate.wait() }
            return SearchReply(results: (0 ..< batch.count).map { NeighborList(ids: [UInt64(batch.values[$0 * batch.dimension])],
                                                                                distances: [0]) })
        }

        func awaitBatches(_ count: Int) {
            let limit = DispatchTime.now() + .seconds(10)
            while batches.withLock({ $0.count }) < count, DispatchTime.now() < limit { usleep(100) }
        }
    }

    static let options = SearchOptions(k: 1, nprobe: 1)

    @Test func aBatchLeavesWhenTheWindowPassesOnTheClock() throws {
        let clock = ManualClock(), backend = Backend()
        let batcher = SearchBatcher(windowMicroseconds: 500, clock: clock)
        let first = Background { try? batcher.search([1, 0], Self.options, deadlineMilliseconds: 60_000, run: backend.run) }
        backend.awaitBatches(1)
        let second = Background { try? batcher.search([2, 0], Self.options, deadlineMilliseconds: 60_000, run: backend.run) }
        clock.awaitWaiters(1)                    // the second leads a batch and waits for the window
        #expect(backend.batches.withLock { $0 } == [1])
        clock.advance(milliseconds: 0.5)
        #expect(second.result()??.results.first?.ids == [2])
        #expect(backend.batches.withLock { $0 } == [1, 1])
        backend.gate.signal()
        #expect(first.result()??.results.first?.ids == [1])
    }

    @Test func aFullBatchLeavesWithoutWaitingAndEachQueryGetsItsOwnAnswer() throws {
        let clock = ManualClock(), backend = Backend()
        let batcher = SearchBatcher(windowMicroseconds: 1_000_000, maxQueries: 3, clock: clock)
        let first = Background { try? batcher.search([1, 0], Self.options, deadlineMilliseconds: 60_000, run: backend.run) }
        backend.awaitBatches(1)
        let others = (2 ... 4).map { value in
            Background { try? batcher.search([Float(value), 0], Self.options, deadlineMilliseconds: 60_000, run: backend.run) }
        }
        backend.awaitBatches(2)                  // no clock advance: the third member filled it
        #expect(backend.batches.withLock { $0 } == [1, 3])
        #expect(others.map { $0.result()??.results.first?.ids } == [[2], [3], [4]])
        backend.gate.signal()
        _ = first.result()
    }
}

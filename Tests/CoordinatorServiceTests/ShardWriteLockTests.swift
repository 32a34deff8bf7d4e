import ClusterModel
import ServiceSupport
import Foundation
import Synchronization
import Testing
import Wire
@testable import CoordinatorService
@testable import ShardStore

/// The writer's shard write locks directly: several are taken in the order given, a holder
/// excludes everyone else, and the health check's try never waits.
@Suite struct ShardWriteLockTests {
    /// Runs `body` with a writer over two unreplicated shards, whose catalog is removed after.
    static func withWriter(_ body: (ReplicatedWriter) throws -> Void) throws {
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("sightline-locks-\(getpid())-\(UInt32.random(in: 0 ... .max))")
        defer { try? FileManager.default.removeItem(at: folder) }
        let catalog = try CatalogDatabase(directory: folder.path, cluster: "locks")
        let routing = Routing(current: ShardMap(version: 1, shards: [MapShard(shard: 0, url: "w0"), MapShard(shard: 1, url: "w1")]))
        let calls = ShardCalls(directory: ShardDirectory(routing), pool: FakeWorkers().pool(clock: ManualClock()),
                               metrics: MetricsRegistry())
        try body(ReplicatedWriter(shardCalls: calls, catalog: catalog, writeQuorum: .count(1), log: { _ in }))
    }

    /// Waits (in real time, at most 10 s) until `condition` holds.
    static func eventually(_ condition: () -> Bool) -> Bool {
        let limit = Date().addingTimeInterval(10)
        while !condition() {
            guard Date() < limit else { return false }
            Thread.sleep(forTimeInterval: 0.001)
        }
        return true
    }

    @Test func aWriterOfTwoShardsHoldsTheFirstWhileItWaitsForTheSecond() throws {
        try Self.withWriter { writer in
            let release = DispatchSemaphore(value: 0), holding = DispatchSemaphore(value: 0)
            let holder = Background { writer.withShardLocks([ShardID(1)]) { holding.signal(); release.wait(); return true } }
            holding.wait()
            let both = Background { writer.withShardLocks([ShardID(0), ShardID(1)]) { true } }
            // It takes shard 0, then waits for shard 1: shard 0 is busy, and it has not finished.
            #expect(Self.eventually { writer.withShardLockIfFree(ShardID(0)) { true } == nil })
            #expect(!both.isDone)
            #expect(writer.withShardLockIfFree(ShardID(1)) { true } == nil)
            release.signal()
            #expect(holder.result() == true)
            #expect(both.result() == true)
            #expect(writer.withShardLockIfFree(ShardID(0)) { true } == true)
            #expect(writer.withShardLockIfFree(ShardID(1)) { true } == true)
        }
    }

    @Test func aShardsLockNeverWaitsForAnotherShard() throws {
        try Self.withWriter { writer in
            let release = DispatchSemaphore(value: 0), holding = DispatchSemaphore(value: 0)
            let holder = Background { writer.withShardLocks([ShardID(1)]) { holding.signal(); release.wait(); return 1 } }
            holding.wait()
            #expect(writer.withShardLocks([ShardID(0)]) { 0 } == 0)
            #expect(writer.withShardLocks([]) { 2 } == 2)
            release.signal()
            #expect(holder.result() == 1)
        }
    }
}

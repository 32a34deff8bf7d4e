import ClusterClient
@testable import CoordinatorService
import Foundation
import Testing
import Wire

/// Moves that never finished: a move journaled as `planned` and then interrupted (the
/// coordinator killed while a write held the lock its first step needs) stayed `planned` for
/// good, blocking backups and every later move. Every step now resumes after a restart, a move
/// that has not flipped can be aborted, and draining a shard whose worker is dead is refused
/// up front instead of waiting forever.
@Suite(.serialized) struct MoveRecoveryTests {
    @Test func aMoveInterruptedBeforeItsFirstStepResumesAfterARestart() throws {
        let cluster = try LocalCluster(name: "planned", workerCount: 4, index: (16, 16, 4), codebooks: SmallData.codebooks,
                                       configuredWorkers: 3)
        defer { cluster.signal(shard: 1, SIGCONT); cluster.stop() }
        try cluster.start()
        let client = try cluster.client()
        _ = try SmallData.add(SmallData.base.slice(0 ..< 1500), to: client)
        // A hung worker holds an add (and with it the write lock a move's first step takes).
        cluster.signal(shard: 1, SIGSTOP)
        let writer = try cluster.client()
        let batch = AddBatch(ids: (1500 ..< 1600).map { UInt64($0) }, vectors: SmallData.batch(SmallData.base.slice(1500 ..< 1600)))
        Thread { _ = try? writer.add(batch, deadlineMilliseconds: 60_000) }.start()
        Thread.sleep(forTimeInterval: 0.5)
        let mover = try cluster.client()
        Thread { _ = try? mover.changeCluster(ClusterChangeRequest(change: .addWorker(url: cluster.workerURLs[3], host: "")),
                                              deadlineMilliseconds: 60_000) }.start()
        // The move is journaled as planned and waits for the write lock; the coordinator dies there.
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline, (try? client.clusterStatus(deadlineMilliseconds: 500))?.move?.step != "planned" {
            Thread.sleep(forTimeInterval: 0.05)
        }
        #expect(try client.clusterStatus().move?.step == "planned")
        cluster.killCoordinator()
        cluster.signal(shard: 1, SIGCONT)
        try cluster.startCoordinator()
        let done = Date().addingTimeInterval(60)
        var last = ""
        while Date() < done {
            if let status = try? client.clusterStatus(deadlineMilliseconds: 1000) {
                last = "\(status.move?.step ?? "none") \(status.move?.error ?? "")"
                if status.move?.step == "done" { break }
            }
            Thread.sleep(forTimeInterval: 0.2)
        }
        #expect(last.hasPrefix("done"), "the planned move did not resume: \(last)\n\(cluster.logs())")
        let status = try client.clusterStatus()
        #expect(status.shards.map(\.shard).sorted() == [0, 1, 2, 3])
        let (_, total) = try client.stats()
        #expect(total >= 1500, "\(total)")
        // And a backup is no longer refused.
        guard case .backup(.parts(let parts)) = try client.call(.backup(.snapshot), deadlineMilliseconds: 60_000) else {
            Issue.record("no backup"); return
        }
        #expect(parts.count == 5)
        _ = try client.call(.backup(.finish))
    }

    @Test func aMoveThatHasNotFlippedCanBeAborted() throws {
        let cluster = try InProcessCluster(workerCount: 3, moveStepPauseMilliseconds: 1500)
        let client = cluster.client()
        _ = try SmallData.add(SmallData.base.slice(0 ..< 600), to: client)
        let query = SmallData.batch(SmallData.queries.slice(0 ..< 5))
        let before = try client.search(query, options: SearchOptions(k: 10, nprobe: 16))
        let started = try client.changeCluster(ClusterChangeRequest(change: .removeWorker(shard: 1)))
        let version = started.mapVersion
        #expect(started.move != nil)
        let aborted = try client.changeCluster(ClusterChangeRequest(change: .abortMove))
        #expect(aborted.move?.step == "done" && aborted.move?.error.contains("aborted") == true, "\(String(describing: aborted.move))")
        #expect(aborted.mapVersion == version)
        #expect(aborted.shards.map(\.shard).sorted() == [0, 1, 2])
        Thread.sleep(forTimeInterval: 2)  // the driver's pause ends; it must not journal the move again
        let after = try client.clusterStatus()
        #expect(after.move?.step == "done" && after.mapVersion == version, "\(String(describing: after.move))")
        #expect(try client.stats().total == 600)
        #expect(try client.search(query, options: SearchOptions(k: 10, nprobe: 16)) == before)
        // Nothing to abort now; a new move may start.
        #expect(throws: ClientError.self) { try client.changeCluster(ClusterChangeRequest(change: .abortMove)) }
        let again = try client.changeCluster(ClusterChangeRequest(change: .removeWorker(shard: 2)))
        #expect(again.move != nil && again.move?.step != "done")
    }

    @Test func drainingAShardWhoseWorkerIsDeadIsRefusedAtOnce() throws {
        let cluster = try InProcessCluster(workerCount: 3)
        let client = cluster.client()
        _ = try SmallData.add(SmallData.base.slice(0 ..< 300), to: client)
        cluster.network.close(cluster.workerURLs[1])
        cluster.coordinator.checkWorkers(timeoutMilliseconds: 200)
        do {
            _ = try client.changeCluster(ClusterChangeRequest(change: .removeWorker(shard: 1)))
            Issue.record("a drain of a dead shard was accepted")
        } catch {
            #expect(error.reply.code == .unavailable && error.reply.message.contains("not answering"), "\(error)")
        }
        #expect(try client.clusterStatus().move == nil)
    }

    @Test func aRateLimitedCopySendsSmallPages() {
        #expect(MoveDriver.pageSize(rate: 0) == MoveDriver.movePageSize)
        #expect(MoveDriver.pageSize(rate: 200) == 50)
        #expect(MoveDriver.pageSize(rate: 1) == 16)
        #expect(MoveDriver.pageSize(rate: .max) == MoveDriver.movePageSize)
    }
}

import ClusterClient
import Foundation
import ShardStore
import Synchronization
import Testing
import VectorIndex
import VectorMath
import Wire

/// What a client has been told: the acknowledged vectors, kept in one index that stands for
/// "a single index holding all the vectors".
final class AcknowledgedVectors: @unchecked Sendable {
    // Safe: every access holds `lock`.
    private let lock = NSLock()
    private var index: IVFPQIndex
    private(set) var ids: [UInt64] = []

    init() throws { index = try IndexFile.decode(SmallData.codebooks) }

    func record(_ matrix: Matrix, ids: [UInt64]) throws {
        try lock.withLock {
            try index.add(matrix, ids: ids.map { VectorID($0) })
            self.ids += ids
        }
    }

    /// Ids deleted after they were acknowledged.
    private(set) var deleted: Set<UInt64> = []

    func forget(_ id: UInt64) {
        lock.withLock {
            index.remove([VectorID(id)])
            deleted.insert(id)
        }
    }

    /// Acknowledged and not deleted.
    var present: [UInt64] { lock.withLock { ids.filter { !deleted.contains($0) } } }

    var count: Int { lock.withLock { ids.count - deleted.count } }

    /// The single index's answer for the acknowledged vectors.
    func search(_ queries: Matrix, k: Int, nprobe: Int) throws -> [NeighborList] {
        try lock.withLock {
            try index.search(queries, parameters: SearchParameters(k: k, probeCount: nprobe)).map {
                NeighborList(ids: $0.map(\.id.rawValue), distances: $0.map(\.distance))
            }
        }
    }
}

/// A client that adds a few vectors, then searches, over and over, and compares every answer
/// with the single index of what was acknowledged so far.
final class CheckingClient: @unchecked Sendable {
    let cluster: LocalCluster
    let acknowledged: AcknowledgedVectors
    let stopFlag = Atomic<Bool>(false)
    struct Tally {
        var searches = 0
        var mismatches: [String] = []
        var partial = 0
        var steps: Set<String> = []
        var errors: [String] = []
        /// Samples where the shards read under one map version answered the same id twice.
        var duplicates: [String] = []
        var shardSamples = 0
    }
    let stats = Mutex(Tally())
    var thread: Thread?
    var nextRow: Int

    /// With faults, searches may fail or come back partial while a process is down; only
    /// complete answers are compared then.
    let faults: Bool

    init(cluster: LocalCluster, acknowledged: AcknowledgedVectors, firstRow: Int, faults: Bool = false) {
        self.cluster = cluster
        self.acknowledged = acknowledged
        self.faults = faults
        nextRow = firstRow
    }

    func start() {
        let thread = Thread { [self] in
            guard let client = try? cluster.client() else { return }
            while !stopFlag.load(ordering: .relaxed), nextRow + 1 <= SmallData.base.rowCount {
                let rows = nextRow ..< nextRow + 1
                let matrix = SmallData.base.slice(rows)
                let ids = rows.map { UInt64($0) }
                // Retried until acknowledged (adds are idempotent), so the reference stays exact. An
                // acknowledged write is recorded even when the stop comes right after it.
                var added = false
                while !added, !stopFlag.load(ordering: .relaxed) {
                    added = (try? client.add(AddBatch(ids: ids, vectors: SmallData.batch(matrix)))) != nil
                    if !added { Thread.sleep(forTimeInterval: 0.05) }
                }
                if added { try? acknowledged.record(matrix, ids: ids) }
                guard added, !stopFlag.load(ordering: .relaxed) else { return }
                nextRow += 1
                // Every fourth step deletes a vector added three steps before (retried until acknowledged too).
                if nextRow % 4 == 0 {
                    let doomed = UInt64(nextRow - 3)
                    var deleted = false
                    while !deleted, !stopFlag.load(ordering: .relaxed) {
                        deleted = (try? client.call(.delete(ids: [doomed]))) != nil
                        if !deleted { Thread.sleep(forTimeInterval: 0.05) }
                    }
                    if deleted { acknowledged.forget(doomed) }
                    guard deleted, !stopFlag.load(ordering: .relaxed) else { return }
                }
                let status = try? client.clusterStatus()
                let step = status?.move?.step ?? "none"
                if let status, !faults { checkShardsDirectly(status, step: step) }
                let reply: SearchReply, expected: [NeighborList]
                do {
                    reply = try client.search(SmallData.batch(SmallData.queries), options: SearchOptions(k: 10, nprobe: 4))
                    expected = try acknowledged.search(SmallData.queries, k: 10, nprobe: 4)
                } catch {
                    stats.withLock { $0.errors.append("step \(step): \(error)") }
                    continue
                }
                stats.withLock { (tally: inout Tally) in
                    tally.searches += 1
                    tally.steps.insert(step)
                    if reply.partial { tally.partial += 1 }
                    if reply.results != expected, !(faults && reply.partial), tally.mismatches.count < 5 {
                        let query = reply.results.count == expected.count
                            ? (reply.results.indices.first { reply.results[$0] != expected[$0] } ?? -1) : -1
                        tally.mismatches.append("step \(step), query \(query): \(query >= 0 ? "\(reply.results[query])" : "count") "
                                                + "vs \(query >= 0 ? "\(expected[query])" : "")")
                    }
                }
            }
        }
        self.thread = thread
        thread.start()
    }

    /// Asks the shards a search reads, directly and under the map version in force, whether
    /// any id comes from two of them (the coordinator's merge would hide it).
    func checkShardsDirectly(_ status: ClusterStatusReply, step: String) {
        let readers = status.shards.filter { $0.state == "active" || $0.state == "draining" }
        var seen: [[UInt64: UInt32]] = Array(repeating: [:], count: SmallData.queries.rowCount)
        for shard in readers {
            guard let worker = try? ServiceClient(url: shard.url, token: cluster.token),
                  let reply = try? worker.search(SmallData.batch(SmallData.queries),
                                                 options: SearchOptions(k: 10, nprobe: 4, mapVersion: status.mapVersion)) else { return }
            for (query, list) in reply.results.enumerated() {
                for id in list.ids {
                    if let other = seen[query][id] {
                        stats.withLock { $0.duplicates.append("step \(step): id \(id) from shards \(other) and \(shard.shard)") }
                    }
                    seen[query][id] = shard.shard
                }
            }
        }
        stats.withLock { $0.shardSamples += 1 }
    }

    func stop() {
        stopFlag.store(true, ordering: .relaxed)
        while thread?.isFinished == false { Thread.sleep(forTimeInterval: 0.01) }
    }
}

/// Every acknowledged id is stored exactly once; deleted ones nowhere; retired shards hold nothing.
func checkStoredOnce(_ cluster: LocalCluster, acknowledged: AcknowledgedVectors, live: [Int], retired: [Int]) throws {
    // Stores are read once the workers have deleted what they no longer own, and stopped.
    try waitForPurges(cluster, shards: live + retired)
    cluster.stop()
    var seen: [UInt64: Int] = [:]
    for shard in live + retired {
        let store = try ShardDatabase(directory: "\(cluster.folder)/worker-\(shard)", cluster: cluster.clusterName, shard: UInt32(shard))
        let entries = try store.loadAll(dimension: 16)
        if retired.contains(shard) { #expect(entries.isEmpty, "retired shard \(shard) still holds \(entries.count) entries") }
        for entry in entries { seen[entry.id, default: 0] += 1 }
    }
    #expect(seen.values.allSatisfy { $0 == 1 }, "\(seen.filter { $0.value > 1 }.count) ids are stored twice")
    let present = Set(acknowledged.present)
    #expect(present.isSubset(of: Set(seen.keys)), "\(present.subtracting(seen.keys).count) acknowledged ids are lost")
    #expect(acknowledged.deleted.isDisjoint(with: seen.keys), "\(acknowledged.deleted.intersection(seen.keys).count) deleted ids came back")
    #expect(acknowledged.deleted.count > 10)
}

/// Waits until every worker of `shards` has deleted, in the background, what it no longer owns.
func waitForPurges(_ cluster: LocalCluster, shards: [Int], timeout: Double = 30) throws {
    let deadline = Date().addingTimeInterval(timeout)
    for shard in shards {
        let worker = try ServiceClient(url: cluster.workerURLs[shard], token: cluster.token, tls: cluster.clientTLS)
        var unowned: UInt64 = .max, failure = ""
        while unowned > 0, Date() < deadline {
            do { unowned = try worker.health().unownedCount } catch { failure = "\(error)" }
            if unowned > 0 { Thread.sleep(forTimeInterval: 0.05) }
        }
        #expect(unowned == 0, "shard \(shard) still holds \(unowned) entries it does not own \(failure)")
    }
}

/// A cluster of `workers` processes of which the config names 3, holding the first 1,500
/// vectors (acknowledged), with moves paused `pause` milliseconds at each step.
func growableCluster(_ name: String, workers: Int, pause: Int) throws -> (LocalCluster, ServiceClient, AcknowledgedVectors) {
    let cluster = try LocalCluster(name: name, workerCount: workers, index: (16, 16, 4), codebooks: SmallData.codebooks,
                                   configuredWorkers: 3)
    cluster.moveStepPauseMilliseconds = pause
    try cluster.start()
    let client = try cluster.client()
    let acknowledged = try AcknowledgedVectors()
    let initial = SmallData.base.slice(0 ..< 1500)
    _ = try SmallData.add(initial, to: client)
    try acknowledged.record(initial, ids: (0 ..< 1500).map { UInt64($0) })
    return (cluster, client, acknowledged)
}

@Suite(.serialized) struct GrowShrinkTests {
    @Test func growThreeToFiveAndShrinkToThreeWhileClientsSearchAndAdd() throws {
        let (cluster, client, acknowledged) = try growableCluster("grow", workers: 5, pause: 500)
        defer { cluster.stop() }

        // One vector added, then one search, over and over (1,500 vectors left for it).
        let checker = CheckingClient(cluster: cluster, acknowledged: acknowledged, firstRow: 1500)
        checker.start()
        var fractions: [(String, Double, Double)] = []
        for (change, expected) in [(["add-worker", "--url", cluster.workerURLs[3]], 1.0 / 4),
                                   (["add-worker", "--url", cluster.workerURLs[4]], 1.0 / 5),
                                   (["remove-worker", "--shard", "1"], 1.0 / 5), (["remove-worker", "--shard", "4"], 1.0 / 4)] {
            let before = acknowledged.count
            let result = try cluster.sightline(["cluster"] + change + ["--json"])
            #expect(result.status == 0, "\(change): \(result.output)\n\(cluster.logs())")
            let status = try JSONDecoder().decode(ClusterStatusReply.self,
                                                  from: Data(result.output.split(separator: "\n").last.map(String.init)?.utf8 ?? "".utf8))
            #expect(status.move?.step == "done")
            fractions.append((change.joined(separator: " "), Double(status.move?.total ?? 0) / Double(before), expected))
        }
        checker.stop()
        let stats = checker.stats.withLock { $0 }
        #expect(stats.mismatches.isEmpty, "\(stats.mismatches)")
        #expect(stats.partial == 0)
        #expect(stats.errors.isEmpty, "\(stats.errors.prefix(5))")
        #expect(stats.duplicates.isEmpty, "\(stats.duplicates.prefix(5))")
        #expect(stats.shardSamples >= 20)
        #expect(stats.searches >= 20)
        #expect(checker.nextRow < SmallData.base.rowCount, "the checking client ran out of vectors before the moves ended")
        for step in ["copy", "verify", "flip", "delete"] {
            #expect(stats.steps.contains(step), "no search during \(step) (\(stats.searches) searches during \(stats.steps))")
        }
        for (change, moved, expected) in fractions {
            #expect(abs(moved - expected) < 0.05, "\(change) moved \(moved) of the vectors, rendezvous expects \(expected)")
        }
        let status = try client.clusterStatus()
        #expect(status.shards.map(\.shard) == [0, 2, 3] && status.mapVersion == 5)
        let shown = try cluster.sightline(["cluster", "status"])
        #expect(shown.status == 0 && shown.output.contains("shard map version 5") && shown.output.contains("step done"), "\(shown.output)")
        let balanced = try cluster.sightline(["cluster", "rebalance", "--dry-run"])
        #expect(balanced.status == 0 && balanced.output.contains("is balanced"), "\(balanced.output)")
        let refused = try cluster.sightline(["cluster", "remove-worker", "--shard", "9"])
        #expect(refused.status != 0 && refused.output.contains("shard 9 is not in the shard map"), "\(refused.output)")
        try checkStoredOnce(cluster, acknowledged: acknowledged, live: [0, 2, 3], retired: [1, 4])
    }
}

import ClusterClient
import Foundation
import ShardStore
import VectorIndex
import VectorMath
import Wire

/// The nemesis's end: the cluster healed and settled, the last search checked against the model,
/// then every copy's store read once everything stopped; and the report.
extension Nemesis {
    /// A complete answer must equal the model's (one index over the acknowledged vectors).
    func checkAnswer(_ reply: SearchReply, queries: Matrix) throws {
        let expected = try single.search(queries, parameters: SearchParameters(k: 10, probeCount: 16))
        tally.withLock { $0.checkedSearches += 1 }
        for (query, list) in reply.results.enumerated()
        where list.ids != expected[query].map(\.id.rawValue) || list.distances != expected[query].map(\.distance) {
            let missing = Set(expected[query].map(\.id.rawValue)).subtracting(list.ids).sorted()
            let extra = Set(list.ids).subtracting(expected[query].map(\.id.rawValue)).sorted()
            violation("a complete answer differs from the acknowledged set (query \(query)): missing \(missing), "
                      + "unexpected \(extra) (deleted among them: \(extra.filter { deleted.contains($0) }))")
            return
        }
    }

    /// Heals, waits until every copy is in sync, then checks the model against every copy.
    func finalChecks() throws {
        let client = try cluster.client()
        let deadline = Date().addingTimeInterval(120)
        var settled = false
        while Date() < deadline, !settled {
            if let status = try? client.clusterStatus(deadlineMilliseconds: 2000) {
                settled = (status.move == nil || status.move?.step == "done")
                    && status.shards.allSatisfy { $0.reachable && ($0.replicaState.isEmpty || $0.replicaState == "in-sync") }
            }
            if !settled { Thread.sleep(forTimeInterval: 0.3) }
        }
        guard settled else {
            violation("the cluster never settled after the faults:\n\(cluster.logs())")
            return
        }
        if let pending {
            let resolveBy = Date().addingTimeInterval(60)
            var done = false
            while !done, Date() < resolveBy {
                do { try pending(); done = true } catch { Thread.sleep(forTimeInterval: 0.2) }
            }
            if !done { violation("an operation could not be completed on the healed cluster") }
            // Its effect is unknown to the model: the final search check is skipped, the store checks
            // allow the pending ids either way.
            print("nemesis: the last operation was unresolved at the end; it was completed on the healed cluster")
        } else {
            let queries = SmallData.queries.slice(0 ..< 20)
            let reply = try client.search(SmallData.batch(queries), options: SearchOptions(k: 10, nprobe: 16))
            if reply.partial { violation("the healed cluster answered partially: \(reply.missingShards)") }
            tally.withLock { $0.searches += 1 }  // the final check counts as one search
            try checkAnswer(reply, queries: queries)
        }
        try checkStores()
    }

    /// Every copy of every live shard, read from its data directory once everything stopped:
    /// each acknowledged add exactly once per shard group with its label; no acknowledged delete.
    func checkStores() throws {
        let liveWorkers = live.withLock { $0 }
        try waitForPurges(cluster, shards: liveWorkers)
        cluster.stop()
        var copies: [UInt32: [[UInt64: Int32?]]] = [:]
        // Per copy, an order-free digest of every entry's id, list and code: equal copies, equal digests.
        var digests: [UInt32: [(worker: Int, digest: Int)]] = [:]
        for worker in liveWorkers {
            let shard = shardOf[worker]!
            let store = try ShardDatabase(directory: "\(cluster.folder)/worker-\(worker)", cluster: cluster.clusterName, shard: shard)
            var held: [UInt64: Int32?] = [:]
            var digest = 0
            for entry in try store.loadAll(dimension: Self.dimension) {
                if held[entry.id] != nil { violation("worker \(worker) stores id \(entry.id) twice") }
                held[entry.id] = entry.label
                var hasher = Hasher()
                hasher.combine(entry.id)
                hasher.combine(entry.list)
                hasher.combine(entry.code)
                digest &+= hasher.finalize()
            }
            copies[shard, default: []].append(held)
            digests[shard, default: []].append((worker, digest))
        }
        for (shard, group) in digests where Set(group.map(\.digest)).count > 1 {
            violation("the copies of shard \(shard) (workers \(group.map(\.worker))) hold different entries (digests differ)")
        }
        let catalog = try CatalogDatabase(directory: "\(cluster.folder)/coordinator", cluster: cluster.clusterName)
        var seen: [UInt64: Int] = [:]
        for (shard, group) in copies {
            for copy in group.dropFirst() where Set(copy.keys) != Set(group[0].keys) {
                violation("the copies of shard \(shard) hold different ids (\(copy.count) against \(group[0].count))")
            }
            for id in group[0].keys { seen[id, default: 0] += 1 }
        }
        let present = labels.keys.filter { !deleted.contains($0) }
        let lost = present.filter { seen[$0] == nil }
        if !lost.isEmpty { violation("\(lost.count) acknowledged ids are lost, e.g. \(lost.sorted().prefix(10))") }
        let twice = seen.filter { $0.value > 1 }
        if !twice.isEmpty { violation("\(twice.count) ids are stored on two shards") }
        let back = deleted.filter { seen[$0] != nil }
        if !back.isEmpty { violation("\(back.count) deleted ids came back, e.g. \(back.sorted().prefix(10))") }
        var wrongLabels = 0
        for id in present {
            let stored = copies.values.flatMap { $0 }.compactMap { $0[id] }
            if stored.contains(where: { $0 != labels[id] }) { wrongLabels += 1; continue }
            if try catalog.item(id)?.label != labels[id] { wrongLabels += 1 }
        }
        if wrongLabels > 0 { violation("\(wrongLabels) acknowledged ids lack their label (on a copy or in the catalog)") }
    }

    func report(_ tally: Tally) {
        let faults = tally.faults.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        print("nemesis: seed \(settings.seed): faults \(faults); acknowledged \(tally.adds) adds (\(tally.adds * 5) ids), "
              + "\(tally.deletes) deletes, \(tally.searches) searches (\(tally.checkedSearches) complete and checked, "
              + "\(tally.partialSearches) partial); \(tally.failedAttempts) failed attempts retried; "
              + "\(tally.violations.count) violations")
        guard let path = settings.reportPath else { return }
        let summary: [String: Any] = [
            "seed": settings.seed, "topology": settings.topology.rawValue, "write_quorum": settings.writeQuorum,
            "seconds": settings.seconds, "faults": tally.faults, "adds": tally.adds, "ids_added": tally.adds * 5,
            "deletes": tally.deletes, "searches": tally.searches, "checked_searches": tally.checkedSearches,
            "partial_searches": tally.partialSearches, "failed_attempts": tally.failedAttempts, "violations": tally.violations,
        ]
        if let data = try? JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys]) {
            try? data.write(to: URL(fileURLWithPath: path))
        }
    }
}

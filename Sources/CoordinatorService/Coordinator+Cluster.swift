import ClusterClient
import ClusterModel
import Dispatch
import Foundation
import ShardStore
import Wire

/// The operator's view and changes of the shard map (`sightline cluster …`).
extension Coordinator {
    func clusterStatus() -> ClusterStatusReply {
        let route = routing.withLock { $0 }
        let seen = states.all()
        var entries: [UInt32: [ShardEntry]] = [:]
        for map in [route.fromMap, route.current, route.toMap].compactMap({ $0 }) {
            for shard in map.shards where shard.state != "retired" || route.move?.shard == shard.shard {
                // A replicated shard shows each copy and its state ("down" while it does not answer).
                let copies = route.replicaSets[shard.shard] ?? []
                entries[shard.shard] = (copies.isEmpty ? [ReplicaRecord(shard: shard.shard, url: shard.url, host: shard.host)] : copies)
                    .map { copy in
                        let state = seen[copy.url] ?? WorkerState()
                        return ShardEntry(shard: shard.shard, url: copy.url, host: copy.host, state: displayState(shard.shard, route),
                                          vectorCount: state.vectorCount, reachable: state.reachable,
                                          replicaState: copies.isEmpty ? "" : state.reachable ? copy.state : "down")
                    }
            }
        }
        let move = route.move ?? (try? catalog.lastMove()) ?? nil
        return ClusterStatusReply(mapVersion: route.current.version, shards: entries.keys.sorted().flatMap { entries[$0]! },
                                  move: move.map(Coordinator.status(of:)), plan: route.move == nil ? [] : mover.lastPlan.withLock { $0 },
                                  warning: configWarning)
    }

    /// "joining" before a new shard's map is in force, "draining" while a removed shard's move
    /// runs, else its state in the map in force.
    func displayState(_ shard: UInt32, _ route: Routing) -> String {
        if let move = route.move, move.shard == shard {
            return move.kind == "add-worker" ? (move.step.isBeforeFlip ? "joining" : "active") : "draining"
        }
        return route.current.shards.first { $0.shard == shard }?.state ?? "retired"
    }

    static func status(of move: MoveRecord) -> MoveStatus {
        MoveStatus(kind: move.kind, shard: move.shard, fromVersion: move.fromVersion, toVersion: move.toVersion, step: move.step.rawValue,
                   copied: min(move.copied, move.total), total: move.total, error: move.error)
    }

    func changeCluster(_ request: ClusterChangeRequest) throws -> ClusterStatusReply {
        try clusterChanges.withLock { _ in
            let reply = try applyChange(request)
            switch request.change {
            case .addReplica, .setReplication, .drainHost:
                // Copies that joined copy their shard at `--rate` entries a second (0: unpaced).
                if !request.dryRun { writer.catchUpRate.store(request.rate, ordering: .relaxed) }
            default: break
            }
            return reply
        }
    }

    /// `changeCluster`'s work, one change at a time.
    private func applyChange(_ request: ClusterChangeRequest) throws -> ClusterStatusReply {
        if case .addReplica(let url, let host, let shard, let replacing) = request.change {
            return try addReplica(url: url, host: host, shard: shard, replacing: replacing, dryRun: request.dryRun)
        }
        switch request.change {
        case .addReplica: fatalError("handled above")
        case .abortMove: return try abortMove(dryRun: request.dryRun)
        case .addShard(let urls, let hosts): return try addShard(urls: urls, hosts: hosts, request: request)
        case .removeReplica(let shard, let url): return try removeReplica(shard: shard, url: url, dryRun: request.dryRun)
        case .setReplication(let replication, let urls, let hosts):
            return try setReplication(Int(clamping: replication), urls: urls, hosts: hosts, dryRun: request.dryRun)
        case .drainHost(let host, let urls, let hosts): return try drainHost(host, urls: urls, hosts: hosts, dryRun: request.dryRun)
        case .rebalance:
            guard let move = routing.withLock({ $0.move }) else { return clusterStatus() }
            // A coordinator that restarted mid-move counts the plan again (the sources still hold it all).
            if move.step != .planned, mover.lastPlan.withLock({ $0.isEmpty }), let plan = try? mover.inventory() {
                mover.lastPlan.withLock { $0 = plan }
            }
            if !request.dryRun { mover.start() }
            return clusterStatus()
        case .addWorker(let url, let host):
            return try addShard(urls: [url], hosts: host.isEmpty ? [] : [host], request: request)
        case .removeWorker(let shard):
            let current = routing.withLock { $0.current }
            guard current.placementShards.contains(shard) else {
                throw ErrorReply(.notFound, "shard \(shard) is not in the shard map (version \(current.version) holds "
                                            + "\(current.placementShards.map(String.init).joined(separator: ", ")))")
            }
            guard current.placementShards.count > 1 else {
                throw ErrorReply(.badRequest, "shard \(shard) is the last one: it cannot be drained")
            }
            // Draining copies the shard's vectors off it: a shard none of whose copies answers
            // (in sync, when it has several) would hold the move at its first step.
            let copies = routing.withLock { $0.replicas(of: ShardID(shard)) }
            let able = copies.count == 1 ? copies : copies.filter { $0.state == ReplicaState.inSync }
            guard able.contains(where: { states.state(at: $0.url)?.reachable == true }) else {
                throw ErrorReply(.unavailable, "shard \(shard) is not answering (\(copies.map(\.url).joined(separator: ", "))"
                                               + (copies.count > 1 ? ": no copy in sync answers" : "") + "): its vectors cannot "
                                               + "be moved off it. Start it again (its data directory holds them), then remove it")
            }
            let next = current.shards.map { entry in
                var entry = entry
                if entry.shard == shard { entry.state = "retired" }
                return entry
            }
            return try startMove(kind: "remove-worker", shard: shard, next: next, request: request)
        }
    }

    /// Cancels the move in progress if it has not flipped: it leaves the routing (under the
    /// write lock, so no write is half-routed and the driver journals nothing more), the driver
    /// stops between pages, the journal records the abort, and every worker of both maps serves
    /// by the map in force again (a target drops what it received; sources never dropped
    /// anything before the flip).
    func abortMove(dryRun: Bool) throws -> ClusterStatusReply {
        guard let move = routing.withLock({ $0.move }) else { throw ErrorReply(.notFound, "no move is in progress") }
        guard move.step.isBeforeFlip else {
            throw ErrorReply(.conflict, "the \(move.kind) move to map \(move.toVersion) has flipped (step \(move.step.rawValue)): "
                                        + "it can only finish (sightline cluster rebalance)")
        }
        guard !dryRun else { return clusterStatus() }
        let targets: [WorkerCall] = try writes.exclusive {
            try routing.withLock { route in
                guard let now = route.move, now.toVersion == move.toVersion, now.step.isBeforeFlip else {
                    throw ErrorReply(.conflict, "the move changed meanwhile: check sightline cluster status")
                }
                let placement = [Placement(version: route.current.version, shards: route.current.placementShards)]
                let calls = route.involvedShards.flatMap { shard in
                    route.replicas(of: shard).map { WorkerCall(shard: shard, url: $0.url, body: .placementUpdate(placement)) }
                }
                route.move = nil
                route.fromMap = nil
                route.toMap = nil
                return calls
            }
        }
        log("move to map \(move.toVersion) (\(move.kind) of shard \(move.shard)) aborted at step \(move.step.rawValue)")
        mover.waitUntilStopped(seconds: 120)
        if move.kind == "add-worker" { try forgetCopies(of: move.shard) }
        try catalog.setMoveStep(move, .done, error: "aborted at step \(move.step.rawValue)")
        try catalog.resetMoveCursors(move)
        mover.lastPlan.withLock { $0 = [] }
        let replies = mover.pushPlacements(targets)
        for (call, reply) in zip(targets, replies) {
            if case .failure(let error) = reply {
                // Out of every map or behind the health loop's placement push: it serves nothing it should not.
                log("abort: \(call.url) did not take the map in force (\(error.message)); the health loop pushes it again")
            }
        }
        return clusterStatus()
    }

    /// What a dry run of a move can check without dialling: that no move is in progress.
    func dryRunReport(kind: String) throws -> ClusterStatusReply {
        if let active = routing.withLock({ $0.move }) {
            throw ErrorReply(.conflict, "a \(active.kind) move of shard \(active.shard) to map \(active.toVersion) is in progress "
                                        + "(step \(active.step.rawValue)): a \(kind) must wait for it")
        }
        return clusterStatus()
    }

    /// Registers the empty workers at `urls` (all started with one unused `--shard`) as the copies
    /// of a new shard, and starts the move of its share to it. A cluster whose shards have r
    /// copies takes r workers; copies of one shard never share a host.
    func addShard(urls: [String], hosts: [String], request: ClusterChangeRequest) throws -> ClusterStatusReply {
        guard (1 ... 3).contains(urls.count), Set(urls).count == urls.count, !urls.contains(where: \.isEmpty) else {
            throw ErrorReply(.badRequest, "a new shard has 1 to 3 copies at distinct addresses; \(urls.count) were named")
        }
        guard hosts.isEmpty || hosts.count == urls.count else {
            throw ErrorReply(.badRequest, "name one host per worker (\(urls.count) workers, \(hosts.count) hosts), or none")
        }
        // Copies of one shard never share a host, and spread over zones (`CopyPlacement`).
        for (index, host) in hosts.enumerated() {
            if let refusal = CopyPlacement.refusal(host: host, shardHosts: Array(hosts.prefix(index)),
                                                   clusterHosts: clusterHosts() + hosts) {
                throw ErrorReply(.badRequest, "the new shard's copies: \(refusal) (copies of one shard never share a host)")
            }
        }
        let replication = currentReplication()
        guard urls.count == replication else {
            throw ErrorReply(.badRequest, "the cluster's shards have \(replication) \(replication == 1 ? "copy" : "copies") each: a new "
                                          + "shard needs \(replication) workers (\(urls.count) named); change the replication "
                                          + "with sightline cluster set-replication")
        }
        // A dry run dials nothing: an address a client names is dialled (with the cluster
        // token) only to make a change the caller's cluster role was checked for.
        if request.dryRun { return try dryRunReport(kind: "add-shard") }
        var shard: UInt32?
        for url in urls {
            let (serves, worker) = try checkNewWorker(url: url)
            guard shard == nil || shard == serves else {
                throw ErrorReply(.badRequest, "the workers serve shards \(shard!) and \(serves): start every copy of a new shard "
                                              + "with the same --shard")
            }
            shard = serves
            // The codebooks first: writes reach the new shard from the move's first step on.
            do {
                _ = try worker.call(.codebookPush(version: codebook.version, indexFile: codebook.indexFile), deadlineMilliseconds: 30_000)
            } catch {
                throw ErrorReply(.unavailable, "the worker at \(url) did not take the codebooks: \(error)")
            }
        }
        let id = shard!
        let current = routing.withLock { $0.current }
        var next = current.shards.filter { $0.shard != id }
        next.append(MapShard(shard: id, url: urls[0], host: hosts.first ?? ""))
        let copies = urls.count == 1
            ? [] : urls.indices.map { ReplicaRecord(shard: id, url: urls[$0], host: hosts.isEmpty ? "" : hosts[$0]) }
        return try startMove(kind: "add-worker", shard: id, next: next, request: request, newCopies: copies)
    }

    /// The copies per shard of the map in force (the most any shard has).
    func currentReplication() -> Int {
        routing.withLock { route in route.readShards.map { route.replicas(of: $0).filter { $0.state != ReplicaState.joining }.count } }
            .max() ?? 1
    }

    /// Removes a shard's copies from the catalog and the routing (an aborted new shard), with its
    /// writes held: no demotion or catch-up in flight records a copy again.
    func forgetCopies(of shard: UInt32) throws {
        try writer.withShardLocks([ShardID(shard)]) {
            let copies = routing.withLock { $0.replicaSets[shard] ?? [] }
            for copy in copies { try writer.removeCopy(ShardID(shard), url: copy.url) }
            routing.withLock { $0.replicaSets[shard] = nil }
        }
    }

    /// Journals the move, switches writes to both maps and starts the driver (unless a dry run).
    /// `newCopies`: a new shard's copies (in sync from the start: all empty), recorded before
    /// the first write can reach them.
    func startMove(kind: String, shard: UInt32, next: [MapShard], request: ClusterChangeRequest,
                   newCopies: [ReplicaRecord] = []) throws -> ClusterStatusReply {
        if let active = routing.withLock({ $0.move }) {
            throw ErrorReply(.conflict, "a \(active.kind) move of shard \(active.shard) to map \(active.toVersion) is in progress "
                                        + "(step \(active.step.rawValue)): wait for it (sightline cluster status) or resume it "
                                        + "(sightline cluster rebalance)")
        }
        guard !request.dryRun else { return clusterStatus() }
        if kind == "add-worker" {
            // A shard id used before starts its write numbers afresh: its copies are empty (and
            // a later set-replication must not find an old acknowledged floor above them).
            try catalog.resetCommittedSeq(shard: shard, seq: 0)
            writer.sequences.withLock { $0[ShardID(shard)] = nil }
        }
        for copy in newCopies { try catalog.putReplica(copy) }
        let move: MoveRecord
        do {
            move = try catalog.planMove(kind: kind, shard: shard, next: next, rate: request.rate)
        } catch {
            for copy in newCopies { try? catalog.removeReplica(shard: shard, url: copy.url) }
            throw error
        }
        let fromMap = routing.withLock { $0.current }
        routing.withLock { route in
            route.move = move
            route.fromMap = fromMap
            route.toMap = ShardMap(version: move.toVersion, shards: next)
            if !newCopies.isEmpty { route.replicaSets[shard] = newCopies }
        }
        mover.lastPlan.withLock { $0 = [] }
        log("\(kind) of shard \(shard): map \(move.fromVersion) → \(move.toVersion)")
        try mover.enter(move, .begin)
        mover.start()
        return clusterStatus()
    }

    /// Asks the worker at `url` who it is: it must belong to this cluster, be empty, and hold a
    /// shard id that the map does not use. Returns that id and a client of the worker.
    /// `anyShardInMap`: the worker may hold any shard of the map (a copy that joins it).
    func checkNewWorker(url: String, asReplicaOf replicaShard: UInt32? = nil,
                        anyShardInMap: Bool = false) throws -> (UInt32, ServiceClient) {
        let health: HealthReply
        let client: ServiceClient
        do {
            client = try shardCalls.pool.unpooledClient(at: url)
            guard case .health(let reply) = try client.call(.health, deadlineMilliseconds: 5000) else {
                throw ErrorReply(.unavailable, "the worker at \(url) sent an unexpected reply")
            }
            health = reply
        } catch let error as ErrorReply {
            throw error
        } catch {
            throw ErrorReply(.unavailable, "the worker at \(url) did not answer: \(error)")
        }
        guard health.cluster == config.cluster else {
            throw ErrorReply(.conflict, "the worker at \(url) belongs to cluster \"\(health.cluster)\", not \"\(config.cluster)\"")
        }
        let current = routing.withLock { $0.current }
        if let replicaShard {
            guard health.shard == replicaShard else {
                throw ErrorReply(.conflict, "the worker at \(url) serves shard \(health.shard): start it with --shard \(replicaShard) "
                                            + "to make it a replica of shard \(replicaShard)")
            }
        } else if anyShardInMap {
            guard current.placementShards.contains(health.shard) else {
                throw ErrorReply(.conflict, "the worker at \(url) serves shard \(health.shard), which the map does not hold: start it "
                                            + "with the --shard it joins")
            }
        } else if current.placementShards.contains(health.shard) {
            throw ErrorReply(.conflict, "the worker at \(url) serves shard \(health.shard), which the map already holds: "
                                        + "start the new worker with an unused --shard")
        }
        guard health.vectorCount == 0 else {
            throw ErrorReply(.conflict, "the worker at \(url) already holds \(health.vectorCount) vectors: "
                                        + "add-worker takes an empty worker")
        }
        return (health.shard, client)
    }
}

extension MoveRecord.Step {
    var isBeforeFlip: Bool { [.planned, .begin, .copy, .verify].contains(self) }
}

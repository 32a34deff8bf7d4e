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
        if case .addReplica(let url, let host, let shard, let replacing) = request.change {
            return try addReplica(url: url, host: host, shard: shard, replacing: replacing, dryRun: request.dryRun)
        }
        if case .abortMove = request.change { return try abortMove(dryRun: request.dryRun) }
        var isMove = true
        if case .rebalance = request.change { isMove = false }
        if isMove, routing.withLock({ $0.isReplicated }) {
            throw ErrorReply(.badRequest, "moves between shards are not available while shards have several replicas: "
                                          + "grow a replicated cluster by adding replicas (add-worker --shard N)")
        }
        switch request.change {
        case .addReplica, .abortMove: fatalError("handled above")
        case .rebalance:
            guard let move = routing.withLock({ $0.move }) else { return clusterStatus() }
            // A coordinator that restarted mid-move counts the plan again (the sources still hold it all).
            if move.step != .planned, mover.lastPlan.withLock({ $0.isEmpty }), let plan = try? mover.inventory() {
                mover.lastPlan.withLock { $0 = plan }
            }
            if !request.dryRun { mover.start() }
            return clusterStatus()
        case .addWorker(let url, let host):
            // A dry run dials nothing: an address a client names is dialled (with the cluster
            // token) only to make a change the caller's cluster role was checked for.
            if request.dryRun { return try dryRunReport(kind: "add-worker") }
            let (shard, worker) = try checkNewWorker(url: url)
            // The codebooks first: writes reach the new shard from the move's first step on.
            if !request.dryRun {
                do {
                    _ = try worker.call(.codebookPush(version: codebook.version, indexFile: codebook.indexFile),
                                        deadlineMilliseconds: 30_000)
                } catch {
                    throw ErrorReply(.unavailable, "the worker at \(url) did not take the codebooks: \(error)")
                }
            }
            let current = routing.withLock { $0.current }
            var next = current.shards.filter { $0.shard != shard }
            next.append(MapShard(shard: shard, url: url, host: host))
            return try startMove(kind: "add-worker", shard: shard, next: next, request: request)
        case .removeWorker(let shard):
            let current = routing.withLock { $0.current }
            guard current.placementShards.contains(shard) else {
                throw ErrorReply(.notFound, "shard \(shard) is not in the shard map (version \(current.version) holds "
                                            + "\(current.placementShards.map(String.init).joined(separator: ", ")))")
            }
            guard current.placementShards.count > 1 else {
                throw ErrorReply(.badRequest, "shard \(shard) is the last one: it cannot be drained")
            }
            // Draining copies the shard's vectors off it: a worker that does not answer would
            // hold the move at its first step for as long as it stays down.
            let url = current.shards.first { $0.shard == shard }?.url ?? ""
            guard states.state(at: url)?.reachable == true else {
                throw ErrorReply(.unavailable, "shard \(shard)'s worker at \(url) is not answering: its vectors cannot be moved off "
                                               + "it. Start it again (its data directory holds them), then remove it")
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

    /// Journals the move, switches writes to both maps and starts the driver (unless a dry run).
    func startMove(kind: String, shard: UInt32, next: [MapShard], request: ClusterChangeRequest) throws -> ClusterStatusReply {
        if let active = routing.withLock({ $0.move }) {
            throw ErrorReply(.conflict, "a \(active.kind) move of shard \(active.shard) to map \(active.toVersion) is in progress "
                                        + "(step \(active.step.rawValue)): wait for it (sightline cluster status) or resume it "
                                        + "(sightline cluster rebalance)")
        }
        guard !request.dryRun else { return clusterStatus() }
        let move = try catalog.planMove(kind: kind, shard: shard, next: next, rate: request.rate)
        let fromMap = routing.withLock { $0.current }
        routing.withLock { route in
            route.move = move
            route.fromMap = fromMap
            route.toMap = ShardMap(version: move.toVersion, shards: next)
        }
        mover.lastPlan.withLock { $0 = [] }
        log("\(kind) of shard \(shard): map \(move.fromVersion) → \(move.toVersion)")
        try mover.enter(move, .begin)
        mover.start()
        return clusterStatus()
    }

    /// Registers the empty worker at `url` (started with `--shard shard`) as a new copy of the
    /// shard; it copies the shard from an in-sync peer, then serves. `replacing` names a copy
    /// that leaves the shard.
    func addReplica(url: String, host: String, shard: UInt32, replacing: String, dryRun: Bool) throws -> ClusterStatusReply {
        let id = ShardID(shard)
        let route = routing.withLock { $0 }
        guard route.current.placementShards.contains(shard) else {
            throw ErrorReply(.notFound, "shard \(shard) is not in the shard map (version \(route.current.version))")
        }
        // Move transfers go to one copy of a shard, outside the numbered writes: a copy that
        // joins meanwhile would race them. Until moves carry replicas, copies join between moves.
        if let move = route.move {
            throw ErrorReply(.conflict, "a \(move.kind) move of shard \(move.shard) to map \(move.toVersion) is in progress "
                                        + "(step \(move.step.rawValue)): add the replica once it is done (sightline cluster status)")
        }
        let copies = route.replicas(of: id)
        guard !copies.contains(where: { $0.url == url }) else {
            throw ErrorReply(.conflict, "\(url) is already a replica of shard \(shard)")
        }
        if !replacing.isEmpty {
            guard copies.contains(where: { $0.url == replacing }) else {
                throw ErrorReply(.notFound, "\(replacing) is not a replica of shard \(shard)")
            }
            guard copies.contains(where: { $0.url != replacing && $0.state == ReplicaState.inSync }) else {
                throw ErrorReply(.conflict, "\(replacing) is shard \(shard)'s last replica in sync: it cannot be replaced")
            }
        }
        guard copies.count - (replacing.isEmpty ? 0 : 1) < 3 else {
            throw ErrorReply(.badRequest, "shard \(shard) already has 3 replicas (the most a shard may have)")
        }
        if !host.isEmpty, copies.contains(where: { $0.host == host && $0.url != replacing }) {
            throw ErrorReply(.badRequest, "shard \(shard) already has a replica on host \(host): place each copy on its own host")
        }
        // A dry run dials nothing (see `addWorker`).
        guard !dryRun else { return clusterStatus() }
        let (_, worker) = try checkNewWorker(url: url, asReplicaOf: shard)
        do {
            _ = try worker.call(.codebookPush(version: codebook.version, indexFile: codebook.indexFile), deadlineMilliseconds: 30_000)
        } catch {
            throw ErrorReply(.unavailable, "the worker at \(url) did not take the codebooks: \(error)")
        }
        // The copy joins under the shard's write lock: no numbered write is half sent meanwhile,
        // and the checks run again on the set as it is now.
        return try writer.withShardLocks([id]) {
            try join(url: url, host: host, shard: shard, replacing: replacing)
        }
    }

    /// `addReplica`'s last part, with the shard's writes held: the checks again, on the set as it
    /// is now, then the copy recorded as joining.
    private func join(url: String, host: String, shard: UInt32, replacing: String) throws -> ClusterStatusReply {
        let id = ShardID(shard)
        let (now, stored, moving) = routing.withLock { ($0.replicas(of: id), $0.replicaSets[shard] != nil, $0.move != nil) }
        guard !moving, !now.contains(where: { $0.url == url }), replacing.isEmpty || now.contains(where: { $0.url == replacing }),
              now.count - (replacing.isEmpty ? 0 : 1) < 3 else {
            throw ErrorReply(.conflict, "shard \(shard)'s replicas changed meanwhile (or a move started): check sightline "
                                        + "cluster status and ask again")
        }
        if !replacing.isEmpty {
            // The copy that stays must be in sync *and answering now*: replacing the only live
            // copy with an empty one would leave the shard's data nowhere.
            let reachable = now.filter {
                $0.url != replacing && $0.state == ReplicaState.inSync && states.state(at: $0.url)?.reachable == true
            }
            guard !reachable.isEmpty else {
                throw ErrorReply(.conflict, "no copy of shard \(shard) other than \(replacing) is in sync and answering: "
                                            + "it cannot be replaced now")
            }
        }
        let record = ReplicaRecord(shard: shard, url: url, host: host, state: ReplicaState.joining)
        try catalog.putReplica(record)
        if !stored, let first = now.first { try catalog.putReplica(first) }
        if !replacing.isEmpty { try catalog.removeReplica(shard: shard, url: replacing) }
        let updated = now.filter { $0.url != replacing } + [record]
        routing.withLock { $0.replicaSets[shard] = updated }
        log("shard \(shard): replica at \(url) joins" + (replacing.isEmpty ? "" : ", replacing \(replacing)")
            + "; it copies the shard from a peer, then serves")
        return clusterStatus()
    }

    /// Asks the worker at `url` who it is: it must belong to this cluster, be empty, and hold a
    /// shard id that the map does not use. Returns that id and a client of the worker.
    func checkNewWorker(url: String, asReplicaOf replicaShard: UInt32? = nil) throws -> (UInt32, ServiceClient) {
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

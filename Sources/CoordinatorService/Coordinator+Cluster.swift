import ClusterClient
import ClusterModel
import Foundation
import ShardStore
import Wire

/// The operator's view and changes of the shard map (`sightline cluster …`).
extension Coordinator {
    func clusterStatus() -> ClusterStatusReply {
        let route = routing.withLock { $0 }
        let states = workerStates.withLock { $0 }
        var entries: [UInt32: ShardEntry] = [:]
        for map in [route.fromMap, route.current, route.toMap].compactMap({ $0 }) {
            for shard in map.shards where shard.state != "retired" || route.move?.shard == shard.shard {
                let state = states[ShardID(shard.shard)] ?? WorkerState()
                entries[shard.shard] = ShardEntry(shard: shard.shard, url: shard.url, host: shard.host, state: displayState(shard.shard, route),
                                                  vectorCount: state.vectorCount, reachable: state.reachable)
            }
        }
        let move = route.move ?? (try? catalog.lastMove()) ?? nil
        return ClusterStatusReply(mapVersion: route.current.version, shards: entries.keys.sorted().map { entries[$0]! },
                                  move: move.map(Coordinator.status(of:)), plan: route.move == nil ? [] : lastPlan.withLock { $0 },
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
        switch request.change {
        case .rebalance:
            guard let move = routing.withLock({ $0.move }) else { return clusterStatus() }
            // A coordinator that restarted mid-move counts the plan again (the sources still hold it all).
            if move.step != .planned, lastPlan.withLock({ $0.isEmpty }), let plan = try? inventory() {
                lastPlan.withLock { $0 = plan }
            }
            if !request.dryRun { startMoveDriver() }
            return clusterStatus()
        case .addWorker(let url, let host):
            let (shard, worker) = try checkNewWorker(url: url)
            // The codebooks first: writes reach the new shard from the move's first step on.
            if !request.dryRun {
                do {
                    _ = try worker.call(.codebookPush(version: codebook.version, indexFile: codebook.indexFile), deadlineMilliseconds: 30_000)
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
            guard current.placementShards.count > 1 else { throw ErrorReply(.badRequest, "shard \(shard) is the last one: it cannot be drained") }
            let next = current.shards.map { entry in
                var entry = entry
                if entry.shard == shard { entry.state = "retired" }
                return entry
            }
            return try startMove(kind: "remove-worker", shard: shard, next: next, request: request)
        }
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
        lastPlan.withLock { $0 = [] }
        log("\(kind) of shard \(shard): map \(move.fromVersion) → \(move.toVersion)")
        try enter(move, .begin)
        startMoveDriver()
        return clusterStatus()
    }

    /// Asks the worker at `url` who it is: it must belong to this cluster, be empty, and hold a
    /// shard id that the map does not use. Returns that id and a client of the worker.
    func checkNewWorker(url: String) throws -> (UInt32, ServiceClient) {
        let health: HealthReply
        let client: ServiceClient
        do {
            client = ServiceClient(connection: try dial(url), token: config.token)
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
        guard !current.placementShards.contains(health.shard) else {
            throw ErrorReply(.conflict, "the worker at \(url) serves shard \(health.shard), which the map already holds: "
                                        + "start the new worker with an unused --shard")
        }
        guard health.vectorCount == 0 else {
            throw ErrorReply(.conflict, "the worker at \(url) already holds \(health.vectorCount) vectors: add-worker takes an empty worker")
        }
        return (health.shard, client)
    }
}

extension MoveRecord.Step {
    var isBeforeFlip: Bool { [.planned, .begin, .copy, .verify].contains(self) }
}

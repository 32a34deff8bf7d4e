import ClusterModel
import Foundation
import ServiceSupport
import Wire

extension Coordinator {
    /// Checks every worker of the maps once: records its state in the catalog, pushes the
    /// codebooks to a worker that lacks them and the placements to a worker that serves by
    /// other ones (a new, wiped or restarted worker becomes usable without an operator).
    public func checkWorkers(timeoutMilliseconds: Int = 1000) {
        let shards = routing.withLock { $0.involvedShards }
        let replies = fanOut(Dictionary(uniqueKeysWithValues: shards.map { ($0, RequestBody.health) }),
                             deadlineMilliseconds: timeoutMilliseconds, probe: true)
        for shard in shards {
            var state = WorkerState()
            if case .success(.health(let health)) = replies[shard] {
                state = WorkerState(reachable: true, codebookVersion: health.codebookVersion, vectorCount: health.vectorCount,
                                    state: health.state)
                if health.codebookVersion != codebook.version, mayPushCodebooks(to: shard) {
                    state.codebookVersion = pushCodebooks(to: shard) ? codebook.version : health.codebookVersion
                    if state.codebookVersion == codebook.version { state.state = "serving" }
                }
                if state.codebookVersion == codebook.version {
                    pushPlacementsIfStale(to: shard, serving: (health.mapVersion, health.pendingMapVersion))
                }
            }
            workerStates.withLock { $0[shard] = state }
            try? catalog.recordWorker(shard: shard.rawValue, url: routing.withLock { $0.url(of: shard) } ?? "",
                                      state: state.reachable ? state.state : "unreachable", seen: state.reachable)
        }
    }

    /// Pushes the codebooks; true when the worker took them.
    func pushCodebooks(to shard: ShardID) -> Bool {
        let push = fanOut([shard: .codebookPush(version: codebook.version, indexFile: codebook.indexFile)], deadlineMilliseconds: 30_000)
        switch push[shard] {
        case .success:
            log("pushed codebooks to shard \(shard)")
            return true
        case .failure(let error) where error.code == .conflict:
            // The worker holds vectors of other codebooks: retrying every second cannot help, so
            // wait before asking again (an operator must resolve it).
            pushConflicts.withLock { $0[shard] = DispatchTime.now() + .seconds(Coordinator.conflictRetrySeconds) }
            log("codebook push to shard \(shard) refused: \(error.message); next try in \(Coordinator.conflictRetrySeconds) s")
        case .failure(let error):
            log("codebook push to shard \(shard) failed: \(error.message)")
        default: break
        }
        return false
    }

    /// Sends `shard` the placements it should serve by when it reports others.
    func pushPlacementsIfStale(to shard: ShardID, serving: (UInt64, UInt64)) {
        placementPushes.withLock { _ in
            let placements = routing.withLock { $0.workerPlacements }
            let wanted = (placements[0].version, placements.count == 2 ? placements[1].version : 0)
            guard serving != wanted else { return }
            // A worker outside every placement it would get is a drained shard after its move.
            guard placements.contains(where: { $0.shards.contains(shard.rawValue) }) || serving.1 == wanted.0 else { return }
            if case .failure(let error) = fanOut([shard: .placementUpdate(placements)], deadlineMilliseconds: 30_000)[shard]! {
                log("placement push to shard \(shard) failed: \(error.message)")
            }
        }
    }

    /// False while a recent push to `shard` was refused as a conflict.
    func mayPushCodebooks(to shard: ShardID) -> Bool {
        pushConflicts.withLock { conflicts in
            guard let until = conflicts[shard] else { return true }
            if DispatchTime.now() < until { return false }
            conflicts[shard] = nil
            return true
        }
    }

    /// Runs `checkWorkers` every `intervalSeconds` on its own thread until `stop()`, and resumes
    /// a move that a previous run left unfinished.
    public func startHealthLoop(intervalSeconds: Double = 1) {
        let thread = Thread { [self] in
            while !stopping.load(ordering: .relaxed) {
                checkWorkers()
                Thread.sleep(forTimeInterval: intervalSeconds)
            }
        }
        thread.name = "sightline-health"
        thread.start()
        if let move = routing.withLock({ $0.move }), move.step != .planned { startMoveDriver() }
    }

    public func stop() { stopping.store(true, ordering: .relaxed) }
}

import ClusterModel
import Foundation
import ServiceSupport
import Wire

extension Coordinator {
    /// Checks every worker of the maps (every copy of a replicated shard) once: records its
    /// state, pushes the codebooks to a worker that lacks them and the placements to a worker that
    /// serves by other ones (a new, wiped or restarted worker becomes usable without an operator),
    /// and starts the catch-up of copies that missed writes.
    public func checkWorkers(timeoutMilliseconds: Int = 1000) {
        let (shards, targets) = routing.withLock { route in
            (route.involvedShards, route.involvedShards.flatMap { shard in route.replicas(of: shard).map { (shard, $0.url) } })
        }
        let replies = callWorkers(targets.map { WorkerCall(shard: $0.0, url: $0.1, body: .health) },
                                  deadlineMilliseconds: timeoutMilliseconds, probe: true)
        for ((shard, url), reply) in zip(targets, replies) {
            var state = WorkerState()
            if case .success(.health(let health)) = reply {
                state = WorkerState(reachable: true, codebookVersion: health.codebookVersion, vectorCount: health.vectorCount,
                                    state: health.state, lastSeq: health.lastSeq)
                if health.codebookVersion != codebook.version, mayPushCodebooks(to: url) {
                    state.codebookVersion = pushCodebooks(to: shard, at: url) ? codebook.version : health.codebookVersion
                    if state.codebookVersion == codebook.version { state.state = "serving" }
                }
                if state.codebookVersion == codebook.version {
                    pushPlacementsIfStale(to: shard, at: url, serving: (health.mapVersion, health.pendingMapVersion))
                }
            }
            let known = state
            workerStates.withLock { $0[url] = known }
            if url == routing.withLock({ $0.url(of: shard) }) {
                try? catalog.recordWorker(shard: shard.rawValue, url: url, state: state.reachable ? state.state : "unreachable",
                                          seen: state.reachable)
            }
        }
        for shard in shards where isReplicated(shard) { demoteStaleCopies(of: shard) }
        startCatchUps()
    }

    /// Pushes the codebooks; true when the worker took them.
    func pushCodebooks(to shard: ShardID, at url: String) -> Bool {
        let push = callWorkers([WorkerCall(shard: shard, url: url, body: .codebookPush(version: codebook.version,
                                                                                        indexFile: codebook.indexFile))],
                               deadlineMilliseconds: 30_000)
        switch push[0] {
        case .success:
            log("pushed codebooks to shard \(shard)" + (isReplicated(shard) ? " at \(url)" : ""))
            return true
        case .failure(let error) where error.code == .conflict:
            // The worker holds vectors of other codebooks: retrying every second cannot help, so
            // wait before asking again (an operator must resolve it).
            pushConflicts.withLock { $0[url] = clock.deadline(afterMilliseconds: Coordinator.conflictRetrySeconds * 1000) }
            log("codebook push to shard \(shard) at \(url) refused: \(error.message); next try in \(Coordinator.conflictRetrySeconds) s")
        case .failure(let error):
            log("codebook push to shard \(shard) at \(url) failed: \(error.message)")
        }
        return false
    }

    /// Sends the worker at `url` the placements it should serve by when it reports others.
    func pushPlacementsIfStale(to shard: ShardID, at url: String, serving: (UInt64, UInt64)) {
        placementPushes.withLock { _ in
            let placements = routing.withLock { $0.workerPlacements }
            let wanted = (placements[0].version, placements.count == 2 ? placements[1].version : 0)
            guard serving != wanted else { return }
            // A worker outside every placement it would get is a drained shard after its move.
            guard placements.contains(where: { $0.shards.contains(shard.rawValue) }) || serving.1 == wanted.0 else { return }
            let reply = callWorkers([WorkerCall(shard: shard, url: url, body: .placementUpdate(placements))], deadlineMilliseconds: 30_000)
            if case .failure(let error) = reply[0] {
                log("placement push to shard \(shard) at \(url) failed: \(error.message)")
            }
        }
    }

    /// An in-sync copy that reports fewer writes than another in-sync copy (after a coordinator
    /// restart, say) or than the shard's last acknowledged write (an emptied or restored data
    /// directory) leaves the set, unless a write is in flight.
    func demoteStaleCopies(of shard: ShardID) {
        // Copies are compared with each other under the shard's write lock (no write moves the
        // numbers meanwhile). A copy below the last acknowledged write is stale whatever is in
        // flight (that number only grows): it leaves the set even while a write holds the lock,
        // so an emptied copy never serves reads behind a write that waits for its peer.
        let lock = shardWriteLock(shard)
        let locked = lock.try()
        defer { if locked { lock.unlock() } }
        // The last acknowledged write is read before the copies answer: a write in flight may be
        // acknowledged between a copy's reply and a later read, and that copy, which applied it,
        // would then look stale (it was the only in-sync copy once, and the shard was left with
        // none). Both numbers only grow, so a copy below a floor read earlier truly lacks it.
        let acknowledged = (try? catalog.committedSeq(shard: shard.rawValue)) ?? 0
        let copies = routing.withLock { $0.replicas(of: shard) }.filter { $0.state == ReplicaState.inSync }.map(\.url)
        let replies = callWorkers(copies.map { WorkerCall(shard: shard, url: $0, body: .health) }, deadlineMilliseconds: 1000)
        let applied = zip(copies, replies).compactMap { url, reply -> (String, UInt64)? in
            if case .success(.health(let health)) = reply { return (url, health.lastSeq) } else { return nil }
        }
        guard let answered = applied.map(\.1).max() else { return }
        let newest = locked ? max(answered, acknowledged) : acknowledged
        for (url, last) in applied where last < newest {
            do {
                try demote(shard, url: url, because: last < acknowledged
                    ? "it holds writes up to \(last), below the last acknowledged write \(acknowledged) (an emptied or restored data directory)"
                    : "it applied writes up to \(last), another copy up to \(newest)")
            } catch {
                log("shard \(shard)'s replica at \(url) trails its peers but the catalog could not record it: \(error)")
            }
        }
    }

    /// False while a recent push to the worker at `url` was refused as a conflict.
    func mayPushCodebooks(to url: String) -> Bool {
        pushConflicts.withLock { conflicts in
            guard let until = conflicts[url] else { return true }
            if clock.now() < until { return false }
            conflicts[url] = nil
            return true
        }
    }

    /// The coordinator's answer to a health request: each shard as the health loop last saw it.
    func health() -> HealthReply {
        let route = routing.withLock { $0 }
        let shardStates = route.readShards.map { shard -> ShardStatsReply in
            var entry = ShardStatsReply()
            let state = self.state(of: shard)
            entry.shard = shard.rawValue
            entry.url = route.url(of: shard) ?? ""
            entry.reachable = state.reachable
            entry.vectorCount = state.vectorCount
            entry.codebookVersion = state.codebookVersion
            return entry
        }
        let ready = shardStates.allSatisfy { $0.reachable && $0.codebookVersion == codebook.version }
        return HealthReply(cluster: config.cluster, shard: 0, codebookVersion: codebook.version, vectorCount: knownTotal,
                           state: ready ? "serving" : "degraded", shards: shardStates, mapVersion: route.current.version)
    }

    /// Runs `checkWorkers` every `intervalSeconds` on its own thread until `stop()`, and resumes
    /// a move that a previous run left unfinished.
    public func startHealthLoop(intervalSeconds: Double = 1) {
        let thread = Thread { [self] in
            while !stopping.load(ordering: .relaxed) {
                checkWorkers()
                clock.sleep(seconds: intervalSeconds)
            }
        }
        thread.name = "sightline-health"
        thread.start()
        // A move left unfinished resumes, from whatever step it was journaled at (`planned` too).
        if routing.withLock({ $0.move }) != nil { startMoveDriver() }
    }

    public func stop() { stopping.store(true, ordering: .relaxed) }
}

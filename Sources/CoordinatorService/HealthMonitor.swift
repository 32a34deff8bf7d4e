import ClusterModel
import Foundation
import ServiceSupport
import ShardStore
import Synchronization
import Wire

/// The health loop: once a second it asks every worker of the maps (every copy of a replicated
/// shard) how it is, records what it saw (`WorkerStates`), pushes the codebooks to a worker
/// that lacks them and the placements to one that serves by others (a new, wiped or restarted
/// worker becomes usable without an operator), demotes stale copies and starts the catch-up of
/// copies that missed writes. It owns the loop and the codebook-push back-off; its lock is a
/// leaf (see the lock order in Coordinator.swift).
final class HealthMonitor: Sendable {
    static let conflictRetrySeconds = 60
    private let shardCalls: ShardCalls
    private let writer: ReplicatedWriter
    private let mover: MoveDriver
    private let states: WorkerStates
    private let catalog: CatalogDatabase
    private let codebook: (version: UInt64, indexFile: [UInt8])
    private let clock: any MonotonicClock
    private let log: @Sendable (String) -> Void
    /// Shards whose last codebook push was refused as a conflict, and when to try again.
    private let pushConflicts = Mutex<[String: UInt64]>([:])
    private let stopping = Atomic<Bool>(false)

    private var directory: ShardDirectory { shardCalls.directory }

    init(shardCalls: ShardCalls, writer: ReplicatedWriter, mover: MoveDriver, states: WorkerStates, catalog: CatalogDatabase,
         codebook: (version: UInt64, indexFile: [UInt8]), clock: any MonotonicClock, log: @escaping @Sendable (String) -> Void) {
        self.shardCalls = shardCalls
        self.writer = writer
        self.mover = mover
        self.states = states
        self.catalog = catalog
        self.codebook = codebook
        self.clock = clock
        self.log = log
    }

    /// Checks every worker of the maps (every copy of a replicated shard) once: records its
    /// state, pushes the codebooks to a worker that lacks them and the placements to a worker that
    /// serves by other ones (a new, wiped or restarted worker becomes usable without an operator),
    /// and starts the catch-up of copies that missed writes.
    func checkWorkers(timeoutMilliseconds: Int = 1000) {
        let (shards, targets) = directory.withLock { route in
            (route.involvedShards, route.involvedShards.flatMap { shard in route.replicas(of: shard).map { (shard, $0.url) } })
        }
        let replies = shardCalls.call(targets.map { WorkerCall(shard: $0.0, url: $0.1, body: .health) },
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
                    mover.pushPlacementsIfStale(to: shard, at: url, serving: (health.mapVersion, health.pendingMapVersion))
                }
            }
            states.record(state, at: url)
            if url == directory.withLock({ $0.url(of: shard) }) {
                try? catalog.recordWorker(shard: shard.rawValue, url: url, state: state.reachable ? state.state : "unreachable",
                                          seen: state.reachable)
            }
        }
        for shard in shards where shardCalls.isReplicated(shard) { writer.demoteStaleCopies(of: shard) }
        writer.startCatchUps { url in
            states.state(at: url).map { $0.reachable && $0.codebookVersion == codebook.version } ?? false
        }
    }

    /// Pushes the codebooks; true when the worker took them.
    func pushCodebooks(to shard: ShardID, at url: String) -> Bool {
        let push = shardCalls.call([WorkerCall(shard: shard, url: url, body: .codebookPush(version: codebook.version,
                                                                                        indexFile: codebook.indexFile))],
                               deadlineMilliseconds: 30_000)
        switch push[0] {
        case .success:
            log("pushed codebooks to shard \(shard)" + (shardCalls.isReplicated(shard) ? " at \(url)" : ""))
            return true
        case .failure(let error) where error.code == .conflict:
            // The worker holds vectors of other codebooks: retrying every second cannot help, so
            // wait before asking again (an operator must resolve it).
            pushConflicts.withLock { $0[url] = clock.deadline(afterMilliseconds: HealthMonitor.conflictRetrySeconds * 1000) }
            log("codebook push to shard \(shard) at \(url) refused: \(error.message); next try in \(HealthMonitor.conflictRetrySeconds) s")
        case .failure(let error):
            log("codebook push to shard \(shard) at \(url) failed: \(error.message)")
        }
        return false
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

    /// The coordinator's answer to a health request: each shard as the loop last saw it.
    func report(cluster: String) -> HealthReply {
        let route = directory.withLock { $0 }
        let shardStates = route.readShards.map { shard -> ShardStatsReply in
            var entry = ShardStatsReply()
            let state = states.state(of: shard)
            entry.shard = shard.rawValue
            entry.url = route.url(of: shard) ?? ""
            entry.reachable = state.reachable
            entry.vectorCount = state.vectorCount
            entry.codebookVersion = state.codebookVersion
            return entry
        }
        let ready = shardStates.allSatisfy { $0.reachable && $0.codebookVersion == codebook.version }
        return HealthReply(cluster: cluster, shard: 0, codebookVersion: codebook.version,
                           vectorCount: states.vectorTotal(of: route.readShards),
                           state: ready ? "serving" : "degraded", shards: shardStates, mapVersion: route.current.version)
    }

    /// Runs `checkWorkers` every `intervalSeconds` on its own thread until `stop()`, and resumes
    /// a move that a previous run left unfinished.
    func start(intervalSeconds: Double = 1) {
        let thread = Thread { [self] in
            while !stopping.load(ordering: .relaxed) {
                checkWorkers()
                clock.sleep(seconds: intervalSeconds)
            }
        }
        thread.name = "sightline-health"
        thread.start()
        // A move left unfinished resumes, from whatever step it was journaled at (`planned` too).
        if directory.withLock({ $0.move }) != nil { mover.start() }
    }

    func stop() { stopping.store(true, ordering: .relaxed) }
}

import ClusterModel
import Foundation
import ServiceSupport
import ShardStore
import Synchronization
import ClusterClient
import Transport
import VectorIndex
import VectorMath
import Wire

/// The coordinator: owns the catalog and the codebooks, routes writes by rendezvous hashing
/// over the catalog's shard map, fans searches out to every shard with a deadline and merges the
/// per-shard top-k with `mergeTopK`, which orders by (distance, id) exactly as a single node's
/// search does. This front answers requests (`respond`: search, add, delete and the rest);
/// its parts own the state:
/// - `ShardDirectory` (`routing`): the shard maps, the move in force, the copies of each shard
///   and the searches running per map version.
/// - `WorkerPool` (`shardCalls.pool`): a client, a breaker and the requests in flight per
///   worker; calls all at once, replicated writes' copies with the straggler rule, hedged reads.
/// - `ShardCalls` (`shardCalls`): calls to shards (a copy chosen from the directory), timed.
/// - `WorkerStates` (`states`): what the health loop last saw of each worker.
/// - `ReplicatedWriter` (`writer`): write numbers, shard write locks, demotion, catch-up.
/// - `MoveDriver` (`mover`): the journaled move, its pacing, and the placement pushes.
/// - `HealthMonitor` (`monitor`): the loop, codebook pushes, starting catch-ups.
/// Time comes from one `MonotonicClock`, so tests drive it.
///
/// Lock order (a lock may be taken while holding only those above it):
/// 0. `clusterChanges` — one operator change at a time (taken before anything else, never inside).
/// 1. `writes` (here, lent to the mover) — shared by an add or delete for its whole routing,
///    exclusive for a move step, a verify, an abort or a backup's snapshot that must see no
///    write half-routed.
/// 2. The shard write locks (`ReplicatedWriter.withShardLocks`), several in ascending shard
///    order: a replicated shard's numbered writes, a catch-up's last pages, a copy joining, the
///    health loop's check of stale copies (which only tries it).
/// 3. `ReplicatedWriter.placementPushes` — one placement push at a time (the mover's, the health
///    loop's), and a copy entering the in-sync set (after its shard's write lock).
/// 4. Leaf locks, held only to copy values out or make one change, never two at once and never
///    around a call to a worker or the catalog: the directory's `routing`, the writer's
///    `sequences`, `shardLocks` and `fullCopies`, `WorkerStates`, the monitor's
///    `pushConflicts`, the mover's `lastPlan` and `stepStarted`, `backupSources`,
///    `backupStarted`, and the pool's `clients`, `breakers` and `outstanding`.
/// Every lock is a `Synchronization.Mutex` (or an `Atomic` for a flag), except `writes`: the
/// read-write lock Synchronization lacks, a pthread one that prefers writers.
public final class Coordinator: Sendable {
    public let config: ClusterConfig
    let catalog: CatalogDatabase
    let codebook: (version: UInt64, indexFile: [UInt8])
    /// The trained, empty index: dimension, nlist and metric for validation and verify.
    let template: IVFPQIndex
    /// The shard map, the move in progress, the copies of each shard.
    let routing: ShardDirectory
    /// Calls to shards through the worker pool.
    let shardCalls: ShardCalls
    let states: WorkerStates
    let writer: ReplicatedWriter
    let mover: MoveDriver
    let monitor: HealthMonitor
    /// The time breakers, hedging, stragglers, the batching window, move pacing and the health
    /// loop read and wait on.
    let clock: any MonotonicClock
    /// Writes hold it shared; move steps that must not interleave with a write hold it exclusively.
    let writes: ReadWriteLock
    /// One cluster change at a time (`changeCluster`): checks and changes of two never interleave.
    let clusterChanges = Mutex<Void>(())
    /// Set when the config's workers differ from the catalog's map (the catalog's map is kept).
    public let configWarning: String
    /// Coalesces concurrent single-query searches (nil when neither `search_batch_window_us` nor
    /// `search_batch_in_flight` asks for it).
    let batcher: SearchBatcher?
    /// The copy of each shard a backup's snapshot was made on (its pieces are read there).
    let backupSources = Mutex<[ShardID: String]>([:])
    /// When the backup being read took its snapshot (nil: none).
    let backupStarted = Mutex<DispatchTime?>(nil)
    let log: @Sendable (String) -> Void
    let gate: RequestGate
    /// Requests, errors, latencies per kind and per shard (`/metrics` on the HTTP API).
    public let metrics: MetricsRegistry
    /// Vectors acknowledged in the last seconds (the ingest-rate gauge).
    let ingestRate = IngestRate()
    /// Small images per id for the web page (nil: adds with thumbnails are refused).
    public let thumbnails: ThumbnailStore?

    /// `dial` opens the connection to a worker's URL: nng by default, an `InProcessNetwork` in
    /// tests; `clock` is the machine's unless a test drives it.
    public init(config: ClusterConfig, catalog: CatalogDatabase, codebookFile: [UInt8], maxFrameBytes: Int = FrameLimits.maxFrameBytes,
                thumbnails: ThumbnailStore? = nil, hooks: CoordinatorHooks = CoordinatorHooks(),
                dial: @escaping @Sendable (String) throws -> any Connection = { try NNGConnection(dial: $0) },
                clock: any MonotonicClock = SystemClock(),
                log: @escaping @Sendable (String) -> Void) throws {
        self.config = config
        self.catalog = catalog
        self.log = log
        self.clock = clock
        self.thumbnails = thumbnails
        if config.searchBatchWindowMicroseconds > 0 {
            batcher = SearchBatcher(windowMicroseconds: config.searchBatchWindowMicroseconds, clock: clock)
        } else if config.searchBatchInFlight > 0 {
            batcher = SearchBatcher(windowMicroseconds: 0, inFlightLimit: config.searchBatchInFlight, clock: clock)
        } else {
            batcher = nil
        }
        gate = RequestGate(tokens: config.accessTokens, collection: config.collection, maxFrameBytes: maxFrameBytes)
        template = try IndexFile.decode(codebookFile)
        guard template.count == 0 else {
            throw ErrorReply(.badRequest, "codebooks must be a trained, empty index (sightline train output)")
        }
        guard !template.configuration.storesScalarCodes else {
            throw ErrorReply(.badRequest, "8-bit refine codes (--refine-codes sq8) are a single-node option: "
                             + "train the cluster's codebooks with --store-vectors or without refine codes")
        }
        guard template.dimension == config.index.dimension, template.listCount == config.index.nlist,
              template.codeSize == config.index.m, template.metric.rawValue == config.index.metric,
              template.configuration.bitsPerCode == config.index.pqBits, template.configuration.usesOPQ == config.index.opq else {
            throw ErrorReply(.badRequest,
                             "the codebooks (d=\(template.dimension) nlist=\(template.listCount) m=\(template.codeSize) "
                             + "\(template.configuration.bitsPerCode)-bit\(template.configuration.usesOPQ ? " OPQ" : "") "
                             + "\(template.metric.rawValue)) do not match the config's [index] "
                             + "(d=\(config.index.dimension) nlist=\(config.index.nlist) m=\(config.index.m) "
                             + "\(config.index.pqBits)-bit\(config.index.opq ? " OPQ" : "") \(config.index.metric))")
        }
        codebook = (codebookVersion(of: codebookFile), codebookFile)
        try catalog.saveCodebook(version: codebook.version, indexFile: codebookFile)
        try catalog.ensureCollection(name: config.collection, dimension: config.index.dimension, nlist: config.index.nlist,
                                     m: config.index.m, metric: config.index.metric, storesVectors: config.index.storesVectors)
        let current = try catalog.recordInitialMap(config.primaryWorkers.map {
            MapShard(shard: $0.shard.rawValue, url: $0.url, host: $0.host ?? "")
        })
        let replicas = try catalog.recordInitialReplicas(config.replication == 1 ? [] : config.workers.map {
            ReplicaRecord(shard: $0.shard.rawValue, url: $0.url, host: $0.host ?? "")
        })
        configWarning = Coordinator.disagreement(config: config, map: current)
        if !configWarning.isEmpty { log(configWarning) }
        var initial = Routing(current: current)
        initial.replicaSets = Dictionary(grouping: replicas, by: \.shard)
        if let move = try catalog.activeMove() {
            initial.move = move
            initial.fromMap = try catalog.map(version: move.fromVersion)
            initial.toMap = try catalog.map(version: move.toVersion)
            log("move to map \(move.toVersion) (\(move.kind) of shard \(move.shard)) is at step \(move.step.rawValue); it resumes")
        }
        let directory = ShardDirectory(initial)
        routing = directory
        let pool = WorkerPool(token: config.token, clock: clock, dial: dial, log: log) { shard, url in
            directory.isReplicated(shard) ? "shard \(shard)'s replica at \(url)" : "shard \(shard)"
        }
        let writes = ReadWriteLock()
        self.writes = writes
        let metrics = MetricsRegistry()
        self.metrics = metrics
        let shardCalls = ShardCalls(directory: directory, pool: pool, metrics: metrics)
        self.shardCalls = shardCalls
        let states = WorkerStates(directory: directory)
        self.states = states
        writer = ReplicatedWriter(shardCalls: shardCalls, catalog: catalog, writeQuorum: config.writeQuorum, log: log)
        mover = MoveDriver(shardCalls: shardCalls, writer: writer, catalog: catalog, states: states, writes: writes, codebook: codebook,
                           template: template, hooks: hooks, clock: clock, log: log)
        monitor = HealthMonitor(shardCalls: shardCalls, writer: writer, mover: mover, states: states, catalog: catalog,
                                codebook: codebook, clock: clock, log: log)
    }

    /// Checks every worker once (`HealthMonitor.checkWorkers`): tests and the first round at start.
    public func checkWorkers(timeoutMilliseconds: Int = 1000) { monitor.checkWorkers(timeoutMilliseconds: timeoutMilliseconds) }

    /// Starts the health loop (which resumes a move left unfinished).
    public func startHealthLoop(intervalSeconds: Double = 1) { monitor.start(intervalSeconds: intervalSeconds) }

    /// Stops the health loop, the move driver and the catch-ups.
    public func stop() {
        monitor.stop()
        mover.stop()
        writer.stop()
    }

    /// A warning when the config names other workers than the catalog's map in force.
    static func disagreement(config: ClusterConfig, map: ShardMap) -> String {
        let configured = config.primaryWorkers.map { "\($0.shard)=\($0.url)" }.sorted()
        let mapped = map.shards.filter { $0.state != "retired" }.map { "\($0.shard)=\($0.url)" }.sorted()
        guard configured != mapped else { return "" }
        return "the config lists workers [\(configured.joined(separator: ", "))] but the catalog's shard map version \(map.version) "
            + "holds [\(mapped.joined(separator: ", "))]: routing follows the catalog's map; change it with "
            + "sightline cluster add-worker / remove-worker"
    }

    /// Answers one frame: the shared gate checks it, `respond` runs it with the request's
    /// deadline (the config's when the request gives none).
    public func handle(_ frame: [UInt8]) -> [UInt8] {
        frame.withUnsafeBytes { handle($0) }
    }

    /// The same for a frame lent by the transport.
    public func handle(_ frame: UnsafeRawBufferPointer) -> [UInt8] {
        var admitted = false
        let reply = gate.handle(frame) { request in
            admitted = true
            let deadline = request.envelope.deadlineMilliseconds > 0
                ? Int(request.envelope.deadlineMilliseconds) : config.deadlineMilliseconds
            let started = DispatchTime.now()
            do {
                let body = try respond(to: request.body, deadlineMilliseconds: deadline)
                recordRequest(request.body, reply: body, started: started)
                return body
            } catch {
                recordRequest(request.body, reply: .error(ErrorReply(classifying: error)), started: started)
                throw error
            }
        }
        if !admitted { recordRefusal(reply) }
        return reply
    }
}

/// Code a test runs inside the coordinator at chosen points; empty in service.
public struct CoordinatorHooks: Sendable {
    /// Called by the move driver once as it takes up each step of a move (before acting on it):
    /// a test pauses here to search, write or kill at that step.
    public var enteringMoveStep: (@Sendable (MoveRecord.Step) -> Void)?

    public init(enteringMoveStep: (@Sendable (MoveRecord.Step) -> Void)? = nil) {
        self.enteringMoveStep = enteringMoveStep
    }
}

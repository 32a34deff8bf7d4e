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
/// search does. It also drives moves between maps (Coordinator+Move).
public final class Coordinator: Sendable {
    public let config: ClusterConfig
    let catalog: CatalogDatabase
    let codebook: (version: UInt64, indexFile: [UInt8])
    /// The trained, empty index: dimension, nlist and metric for validation and verify.
    let template: IVFPQIndex
    let dial: @Sendable (String) throws -> any Connection
    /// One client per worker URL, opened on first use; the fan-out goes through them.
    let clients = Mutex<[String: ServiceClient]>([:])
    let routing: Mutex<Routing>
    /// Writes hold it shared; move steps that must not interleave with a write hold it exclusively.
    let writes = ReadWriteLock()
    /// Serialises placement pushes (the health loop and the move driver).
    let placementPushes = Mutex<Void>(())
    let moveDriverRunning = Atomic<Bool>(false)
    let lastPlan = Mutex<[Flow]>([])
    /// When the move's current step began (for the log's step durations).
    let stepStarted = Mutex<DispatchTime?>(nil)
    /// Set when the config's workers differ from the catalog's map (the catalog's map is kept).
    public let configWarning: String
    /// Pause after entering each move step (tests use it to act at a chosen step).
    let moveStepPauseMilliseconds: Int
    /// By worker URL (a replicated shard has several).
    let workerStates = Mutex<[String: WorkerState]>([:])
    let breakers = Mutex<[String: Breaker]>([:])
    /// Requests in flight per worker URL (reads go to the replica with the fewest).
    let outstanding = Mutex<[String: Int]>([:])
    /// Per replicated shard: the last write committed and the sequence numbers reserved.
    let sequences = Mutex<[ShardID: ShardSequence]>([:])
    /// Held while a replicated shard's write is numbered and sent, and while a catch-up closes.
    let shardWriteLocks = Mutex<[ShardID: NSLock]>([:])
    /// Round trips of reads to replicated shards: the hedging delay is a percentile of them.
    let replicaReadLatency = LatencyRecorder(capacity: 2000)
    let catchUpRunning = Atomic<Bool>(false)
    /// Coalesces concurrent single-query searches (nil when `search_batch_window_us` is 0).
    let batcher: SearchBatcher?
    /// Copies whose last catch-up ended with different digests: the next copies the whole shard.
    let fullCopies = Mutex<Set<String>>([])
    /// The copy of each shard a backup's snapshot was made on (its pieces are read there).
    let backupSources = Mutex<[ShardID: String]>([:])
    /// When the backup being read took its snapshot (nil: none).
    let backupStarted = Mutex<DispatchTime?>(nil)
    /// Shards whose last codebook push was refused as a conflict, and when to try again.
    let pushConflicts = Mutex<[String: DispatchTime]>([:])
    static let conflictRetrySeconds = 60
    let stopping = Atomic<Bool>(false)
    let log: @Sendable (String) -> Void
    let gate: RequestGate
    /// Requests, errors, latencies per kind and per shard (`/metrics` on the HTTP API).
    public let metrics = MetricsRegistry()
    /// Vectors acknowledged in the last seconds (the ingest-rate gauge).
    let ingestRate = IngestRate()
    /// Small images per id for the web page (nil: adds with thumbnails are refused).
    public let thumbnails: ThumbnailStore?

    /// `dial` opens the connection to a worker's URL: nng by default, an `InProcessNetwork` in
    /// tests.
    public init(config: ClusterConfig, catalog: CatalogDatabase, codebookFile: [UInt8], maxFrameBytes: Int = FrameLimits.maxFrameBytes,
                moveStepPauseMilliseconds: Int = 0, thumbnails: ThumbnailStore? = nil,
                dial: @escaping @Sendable (String) throws -> any Connection = { try NNGConnection(dial: $0) },
                log: @escaping @Sendable (String) -> Void) throws {
        self.config = config
        self.catalog = catalog
        self.log = log
        self.dial = dial
        self.moveStepPauseMilliseconds = moveStepPauseMilliseconds
        self.thumbnails = thumbnails
        batcher = config.searchBatchWindowMicroseconds > 0 ? SearchBatcher(windowMicroseconds: config.searchBatchWindowMicroseconds) : nil
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
        routing = Mutex(initial)
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

    /// The client of the worker at `url`, dialled on first use.
    func client(at url: String) throws -> ServiceClient {
        try clients.withLock { clients in
            if let existing = clients[url] { return existing }
            // The coordinator enforces each deadline itself: no margin beyond it.
            let client = ServiceClient(connection: try dial(url), token: config.token, replyMarginMilliseconds: 0)
            clients[url] = client
            return client
        }
    }

    /// Sends each (shard, body) at once to the shard's preferred replica and collects each reply
    /// or failure in order; the slowest shard, not the sum, bounds the time. A shard may appear
    /// more than once.
    func fanOutCalls(_ calls: [(shard: ShardID, body: RequestBody)], deadlineMilliseconds: Int,
                     probe: Bool = false) -> [Result<ResponseBody, ErrorReply>] {
        let targets = calls.map { call -> WorkerCall? in
            preferredReplica(of: call.shard).map { WorkerCall(shard: call.shard, url: $0, body: call.body) }
        }
        let sent = callWorkers(targets.compactMap { $0 }, deadlineMilliseconds: deadlineMilliseconds, probe: probe)
        var next = sent.makeIterator()
        return zip(calls, targets).map { call, target in
            guard target == nil else { return next.next()! }
            return routing.withLock({ $0.replicas(of: call.shard).isEmpty })
                ? .failure(ErrorReply(.notFound, "shard \(call.shard) is in no shard map"))
                : .failure(ErrorReply(.unavailable, "shard \(call.shard) has no copy in sync"))
        }
    }

    /// Sends every call at once and collects each reply or failure in order. A worker whose
    /// breaker is open gets no call (its failure is reported at once) unless `probe` is set: the
    /// health loop's probes go through, and an answer closes the breaker.
    func callWorkers(_ calls: [WorkerCall], deadlineMilliseconds: Int, probe: Bool = false) -> [Result<ResponseBody, ErrorReply>] {
        var results = [Result<ResponseBody, ErrorReply>?](repeating: nil, count: calls.count)
        var pending: [(position: Int, call: PendingCall)] = []
        let open = probe ? [:] : breakers.withLock { $0.compactMapValues(\.openedAt) }
        for (position, call) in calls.enumerated() {
            if let openedAt = open[call.url] {
                results[position] = .failure(Breaker.refusal(call.shard, since: openedAt))
                continue
            }
            do {
                let client = try client(at: call.url)
                pending.append((position, client.start(call.body, deadlineMilliseconds: deadlineMilliseconds, sequence: call.sequence)))
            } catch {
                results[position] = .failure(ErrorReply(.unavailable, "shard \(call.shard): cannot dial its worker at \(call.url): \(error)"))
            }
        }
        let started = DispatchTime.now()
        for (position, call) in pending {
            let reply = call.wait()
            if !probe { recordShardLatency(calls[position].shard, since: started) }
            record(reply, from: calls[position], probe: probe)
            results[position] = reply.mapError(\.reply)
        }
        return results.map { $0! }
    }

    /// Feeds a reply to the worker's breaker and logs when the breaker opens or closes.
    func record(_ reply: Result<ResponseBody, ClientError>, from call: WorkerCall, probe: Bool) {
        var answered = true
        if case .failure(.transport(let error, _)) = reply {
            // A slow call (a short client deadline, a bulk step queued on the idle lane)
            // proves nothing: only the probe's timeouts count.
            if case .timedOut = error, !probe { return }
            answered = false
        }
        let change = breakers.withLock { breakers -> (opened: Bool, closed: Bool) in
            let wasOpen = breakers[call.url]?.isOpen ?? false
            breakers[call.url, default: Breaker()].record(answered: answered)
            let isOpen = breakers[call.url]!.isOpen
            return (!wasOpen && isOpen, wasOpen && !isOpen)
        }
        // Named only when the breaker changed (rare): replies on the query path pay nothing for it.
        guard change.opened || change.closed else { return }
        let name = isReplicated(call.shard) ? "shard \(call.shard)'s replica at \(call.url)" : "shard \(call.shard)"
        log(change.opened ? "\(name) stopped answering: requests skip it until a health probe gets an answer" : "\(name) answers again")
    }

    /// One body per shard, sent at once.
    func fanOut(_ bodies: [ShardID: RequestBody], deadlineMilliseconds: Int,
                probe: Bool = false) -> [ShardID: Result<ResponseBody, ErrorReply>] {
        let order = bodies.keys.sorted()
        let replies = fanOutCalls(order.map { ($0, bodies[$0]!) }, deadlineMilliseconds: deadlineMilliseconds, probe: probe)
        return Dictionary(uniqueKeysWithValues: zip(order, replies))
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

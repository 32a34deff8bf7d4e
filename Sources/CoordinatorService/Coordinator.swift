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
    /// One client per worker, opened on first use; the fan-out goes through them.
    let clients = Mutex<[ShardID: ServiceClient]>([:])
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
    let workerStates = Mutex<[ShardID: WorkerState]>([:])
    let breakers = Mutex<[ShardID: Breaker]>([:])
    /// When the backup being read took its snapshot (nil: none).
    let backupStarted = Mutex<DispatchTime?>(nil)
    /// Shards whose last codebook push was refused as a conflict, and when to try again.
    let pushConflicts = Mutex<[ShardID: DispatchTime]>([:])
    static let conflictRetrySeconds = 60
    let stopping = Atomic<Bool>(false)
    let log: @Sendable (String) -> Void
    let gate: RequestGate

    /// `dial` opens the connection to a worker's URL: nng by default, an `InProcessNetwork` in
    /// tests.
    public init(config: ClusterConfig, catalog: CatalogDatabase, codebookFile: [UInt8], maxFrameBytes: Int = FrameLimits.maxFrameBytes,
                moveStepPauseMilliseconds: Int = 0,
                dial: @escaping @Sendable (String) throws -> any Connection = { try NNGConnection(dial: $0) },
                log: @escaping @Sendable (String) -> Void) throws {
        self.config = config
        self.catalog = catalog
        self.log = log
        self.dial = dial
        self.moveStepPauseMilliseconds = moveStepPauseMilliseconds
        gate = RequestGate(tokens: config.accessTokens, collection: config.collection, maxFrameBytes: maxFrameBytes)
        template = try IndexFile.decode(codebookFile)
        guard template.count == 0 else {
            throw ErrorReply(.badRequest, "codebooks must be a trained, empty index (sightline train output)")
        }
        guard template.dimension == config.index.dimension, template.listCount == config.index.nlist,
              template.codeSize == config.index.m, template.metric.rawValue == config.index.metric else {
            throw ErrorReply(.badRequest,
                             "the codebooks (d=\(template.dimension) nlist=\(template.listCount) m=\(template.codeSize) "
                             + "\(template.metric.rawValue)) do not match the config's [index] (d=\(config.index.dimension) "
                             + "nlist=\(config.index.nlist) m=\(config.index.m) \(config.index.metric))")
        }
        codebook = (codebookVersion(of: codebookFile), codebookFile)
        try catalog.saveCodebook(version: codebook.version, indexFile: codebookFile)
        try catalog.ensureCollection(name: config.collection, dimension: config.index.dimension, nlist: config.index.nlist,
                                     m: config.index.m, metric: config.index.metric, storesVectors: config.index.storesVectors)
        let current = try catalog.recordInitialMap(config.workers.map {
            MapShard(shard: $0.shard.rawValue, url: $0.url, host: $0.host ?? "")
        })
        configWarning = Coordinator.disagreement(config: config, map: current)
        if !configWarning.isEmpty { log(configWarning) }
        var initial = Routing(current: current)
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
        let configured = config.workers.map { "\($0.shard)=\($0.url)" }.sorted()
        let mapped = map.shards.filter { $0.state != "retired" }.map { "\($0.shard)=\($0.url)" }.sorted()
        guard configured != mapped else { return "" }
        return "the config lists workers [\(configured.joined(separator: ", "))] but the catalog's shard map version \(map.version) "
            + "holds [\(mapped.joined(separator: ", "))]: routing follows the catalog's map; change it with "
            + "sightline cluster add-worker / remove-worker"
    }

    /// The client of `shard`, dialled on first use at the URL the maps give it.
    func client(for shard: ShardID) throws -> ServiceClient {
        guard let url = routing.withLock({ $0.url(of: shard) }) else {
            throw ErrorReply(.notFound, "shard \(shard) is in no shard map")
        }
        return try clients.withLock { clients in
            if let existing = clients[shard], existing.url == url { return existing }
            // The coordinator enforces each deadline itself: no margin beyond it.
            let client = ServiceClient(connection: try dial(url), token: config.token, replyMarginMilliseconds: 0)
            clients[shard] = client
            return client
        }
    }

    /// Sends each (shard, body) at once and collects each reply or failure in order; the
    /// slowest shard, not the sum, bounds the time. A shard may appear more than once.
    /// A shard whose breaker is open gets no call (its failure is reported at once) unless
    /// `probe` is set: the health loop's probes go through, and an answer closes the breaker.
    func fanOutCalls(_ calls: [(shard: ShardID, body: RequestBody)], deadlineMilliseconds: Int,
                     probe: Bool = false) -> [Result<ResponseBody, ErrorReply>] {
        var results = [Result<ResponseBody, ErrorReply>?](repeating: nil, count: calls.count)
        var ready: [(client: ServiceClient, body: RequestBody)] = [], positions: [Int] = []
        let open = probe ? [:] : breakers.withLock { $0.compactMapValues(\.openedAt) }
        for (position, call) in calls.enumerated() {
            if let openedAt = open[call.shard] {
                results[position] = .failure(Breaker.refusal(call.shard, since: openedAt))
                continue
            }
            do {
                ready.append((try client(for: call.shard), call.body))
                positions.append(position)
            } catch {
                results[position] = .failure(ErrorReply(.unavailable, "shard \(call.shard): cannot dial its worker: \(error)"))
            }
        }
        let replies = ServiceClient.callAll(ready, deadlineMilliseconds: deadlineMilliseconds)
        let changes = breakers.withLock { breakers in
            zip(positions, replies).compactMap { position, reply -> String? in
                var answered = true
                if case .failure(.transport(let error, _)) = reply {
                    // A slow call (a short client deadline, a bulk step queued on the idle lane)
                    // proves nothing: only the probe's timeouts count.
                    if case .timedOut = error, !probe { return nil }
                    answered = false
                }
                let shard = calls[position].shard
                let wasOpen = breakers[shard]?.isOpen ?? false
                breakers[shard, default: Breaker()].record(answered: answered)
                switch (wasOpen, breakers[shard]!.isOpen) {
                case (false, true): return "shard \(shard) stopped answering: requests skip it until a health probe gets an answer"
                case (true, false): return "shard \(shard) answers again"
                default: return nil
                }
            }
        }
        changes.forEach(log)
        for (position, reply) in zip(positions, replies) {
            results[position] = reply.mapError(\.reply)
        }
        return results.map { $0! }
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
        gate.handle(frame) { request in
            let deadline = request.envelope.deadlineMilliseconds > 0
                ? Int(request.envelope.deadlineMilliseconds) : config.deadlineMilliseconds
            return try respond(to: request.body, deadlineMilliseconds: deadline)
        }
    }
}

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

/// The coordinator: owns the catalog and the codebooks, routes writes by rendezvous hashing,
/// fans searches out to every shard with a deadline and merges the per-shard top-k with
/// `mergeTopK`, which orders by (distance, id) exactly as a single node's search does.
public final class Coordinator: Sendable {
    public let config: ClusterConfig
    let catalog: CatalogDatabase
    let codebook: (version: UInt64, indexFile: [UInt8])
    /// The trained, empty index: dimension, nlist and metric for validation and verify.
    let template: IVFPQIndex
    /// One client per worker; the fan-out goes through them (coordinator → client → transport).
    let clients: [ShardID: ServiceClient]
    let shards: [ShardID]
    let workerStates = Mutex<[ShardID: WorkerState]>([:])
    /// Shards whose last codebook push was refused as a conflict, and when to try again.
    let pushConflicts = Mutex<[ShardID: DispatchTime]>([:])
    static let conflictRetrySeconds = 60
    let stopping = Atomic<Bool>(false)
    let log: @Sendable (String) -> Void
    let gate: RequestGate

    /// `dial` opens the connection to a worker's URL: nng by default, an `InProcessNetwork` in
    /// tests.
    public init(config: ClusterConfig, catalog: CatalogDatabase, codebookFile: [UInt8], maxFrameBytes: Int = FrameLimits.maxFrameBytes,
                dial: (String) throws -> any Connection = { try NNGConnection(dial: $0) },
                log: @escaping @Sendable (String) -> Void) throws {
        self.config = config
        self.catalog = catalog
        self.log = log
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
        _ = try catalog.recordShardMap(config.workers.map { ($0.shard.rawValue, $0.url) })
        var clients: [ShardID: ServiceClient] = [:]
        for worker in config.workers {
            // The coordinator enforces each deadline itself: no margin beyond it.
            clients[worker.shard] = ServiceClient(connection: try dial(worker.url), token: config.token, replyMarginMilliseconds: 0)
        }
        self.clients = clients
        shards = config.workers.map(\.shard).sorted()
    }

    /// Sends one request body per shard at once through the shards' clients and collects each
    /// shard's reply or failure; the slowest shard, not the sum, bounds the time.
    func fanOut(_ bodies: [ShardID: RequestBody], deadlineMilliseconds: Int) -> [ShardID: Result<ResponseBody, ErrorReply>] {
        let order = bodies.keys.sorted()
        let replies = ServiceClient.callAll(order.map { (clients[$0]!, bodies[$0]!) }, deadlineMilliseconds: deadlineMilliseconds)
        return Dictionary(uniqueKeysWithValues: zip(order, replies.map { $0.mapError(\.reply) }))
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

import ClusterModel
import Foundation
import ServiceSupport
import ShardStore
import Synchronization
import Transport
import VectorIndex
import VectorMath
import Wire

/// What the coordinator knows of one worker, refreshed by the health loop.
struct WorkerState: Sendable {
    var reachable = false
    var codebookVersion: UInt64 = 0
    var vectorCount: UInt64 = 0
    var state = "unknown"
}

/// The coordinator: owns the catalog and the codebooks, routes writes by rendezvous hashing,
/// fans searches out to every shard with a deadline and merges the per-shard top-k with the same
/// `mergeTopK` a single node uses.
public final class CoordinatorService: Sendable {
    public let config: ClusterConfig
    let catalog: CatalogDatabase
    let codebook: (version: UInt64, indexFile: [UInt8])
    /// The trained, empty index: dimension, nlist and metric for validation and verify.
    let template: IVFPQIndex
    let clients: [ShardID: RequestClient]
    let shards: [ShardID]
    let workerStates = Mutex<[ShardID: WorkerState]>([:])
    let nextRequestID = Atomic<UInt64>(1)
    let stopping = Atomic<Bool>(false)
    let log: @Sendable (String) -> Void
    public let maxFrameBytes: Int

    public init(config: ClusterConfig, catalog: CatalogDatabase, codebookFile: [UInt8], maxFrameBytes: Int = FrameLimits.maxFrameBytes,
                log: @escaping @Sendable (String) -> Void) throws {
        self.config = config
        self.catalog = catalog
        self.log = log
        self.maxFrameBytes = maxFrameBytes
        template = try IndexFile.decode(codebookFile)
        guard template.count == 0 else { throw ErrorReply(.badRequest, "codebooks must be a trained, empty index (sightline train output)") }
        guard template.dimension == config.index.dimension, template.listCount == config.index.nlist,
              template.codeSize == config.index.m, template.metric.rawValue == config.index.metric else {
            throw ErrorReply(.badRequest, "the codebooks (d=\(template.dimension) nlist=\(template.listCount) m=\(template.codeSize) \(template.metric.rawValue)) do not match the config's [index] (d=\(config.index.dimension) nlist=\(config.index.nlist) m=\(config.index.m) \(config.index.metric))")
        }
        codebook = (codebookVersion(of: codebookFile), codebookFile)
        try catalog.saveCodebook(version: codebook.version, indexFile: codebookFile)
        try catalog.ensureCollection(name: config.collection, dimension: config.index.dimension, nlist: config.index.nlist,
                                     m: config.index.m, metric: config.index.metric, storesVectors: config.index.storesVectors)
        _ = try catalog.recordShardMap(config.workers.map { ($0.shard.rawValue, $0.url) })
        var clients: [ShardID: RequestClient] = [:]
        for worker in config.workers { clients[worker.shard] = try RequestClient(dial: worker.url) }
        self.clients = clients
        shards = config.workers.map(\.shard).sorted()
    }

    func newRequestID() -> UInt64 { nextRequestID.wrappingAdd(1, ordering: .relaxed).oldValue }

    /// Sends one request body per shard at once and collects each shard's reply or failure.
    func fanOut(_ bodies: [ShardID: RequestBody], deadlineMilliseconds: Int) -> [ShardID: Result<ResponseBody, ErrorReply>] {
        let order = bodies.keys.sorted()
        let requests = order.map { shard -> (RequestClient, [UInt8]) in
            let envelope = Envelope(requestID: newRequestID(), token: config.token, deadlineMilliseconds: UInt32(clamping: deadlineMilliseconds))
            return (clients[shard]!, WireCodec.encode(Request(envelope: envelope, body: bodies[shard]!)))
        }
        let replies = RequestClient.requestAll(requests, timeoutMilliseconds: deadlineMilliseconds)
        var results: [ShardID: Result<ResponseBody, ErrorReply>] = [:]
        for (shard, reply) in zip(order, replies) {
            switch reply {
            case .failure(let error):
                results[shard] = .failure(ServiceErrors.reply(for: error))
            case .success(let bytes):
                do {
                    let response = try WireCodec.decodeResponse(bytes)
                    if case .error(let error) = response.body { results[shard] = .failure(error) } else { results[shard] = .success(response.body) }
                } catch {
                    results[shard] = .failure(ErrorReply(.internalError, "shard \(shard) sent an unreadable reply: \(error)"))
                }
            }
        }
        return results
    }

    /// Decodes a frame, checks token and collection, answers. Never throws; bad input becomes a
    /// typed error reply.
    public func handle(_ frame: [UInt8]) -> [UInt8] {
        let request: Request
        do {
            guard frame.count <= maxFrameBytes else { throw WireError.oversized(bytes: frame.count, limit: maxFrameBytes) }
            request = try WireCodec.decodeRequest(frame, limit: maxFrameBytes)
        } catch let error as WireError {
            return WireCodec.encode(Response(requestID: WireCodec.bestEffortRequestID(frame), body: .error(ErrorReply(error.code, error.description))))
        } catch {
            return WireCodec.encode(Response(requestID: 0, body: .error(ErrorReply(.internalError, "\(error)"))))
        }
        let body: ResponseBody
        if !config.token.isEmpty, !constantTimeEquals(request.envelope.token, config.token) {
            body = .error(ErrorReply(.unauthorized, request.envelope.token.isEmpty ? "missing token" : "wrong token"))
        } else if !request.envelope.collection.isEmpty, request.envelope.collection != config.collection {
            body = .error(ErrorReply(.notFound, "unknown collection \"\(request.envelope.collection)\": this cluster serves \"\(config.collection)\""))
        } else {
            let deadline = request.envelope.deadlineMilliseconds > 0 ? Int(request.envelope.deadlineMilliseconds) : config.deadlineMilliseconds
            do {
                body = try respond(to: request.body, deadlineMilliseconds: deadline)
            } catch {
                body = .error(ServiceErrors.reply(for: error))
            }
        }
        return WireCodec.encode(Response(requestID: request.envelope.requestID, body: body))
    }
}

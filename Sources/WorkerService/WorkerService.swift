import ClusterModel
import Foundation
import Quantization
import ServiceSupport
import ShardStore
import Synchronization
import VectorIndex
import VectorMath
import Wire

/// Settings a worker starts with.
public struct WorkerSettings: Sendable {
    public var cluster: String
    public var shard: ShardID
    public var token: String
    public var dataDirectory: String
    public var collection: String = ""
    /// Threads for one batch search.
    public var searchThreads: Int = 1
    public var maxFrameBytes: Int = FrameLimits.maxFrameBytes

    public init(cluster: String, shard: ShardID, token: String, dataDirectory: String) {
        self.cluster = cluster
        self.shard = shard
        self.token = token
        self.dataDirectory = dataDirectory
    }
}

/// One shard: its durable store, its in-memory IVF-PQ index and the request handler.
///
/// Searches read a snapshot of the index (a value) taken under `index`'s lock, so they never wait
/// for each other; writes are serialised by `writeLock` and become visible only after the SQLite
/// transaction has committed.
public final class WorkerService: Sendable {
    public let settings: WorkerSettings
    let store: ShardDatabase
    let index = Mutex<ShardIndex?>(nil)
    let writeLock = Mutex<Void>(())
    let latencies = LatencyRecorder()
    let log: @Sendable (String) -> Void

    /// Opens the store in the data directory and reloads every stored vector into memory.
    public init(settings: WorkerSettings, log: @escaping @Sendable (String) -> Void) throws {
        self.settings = settings
        self.log = log
        store = try ShardDatabase(directory: settings.dataDirectory, cluster: settings.cluster)
        if let (version, file) = try store.codebook() {
            var loaded = ShardIndex(version: version, index: try IndexFile.decode(file))
            let entries = try store.loadAll(dimension: loaded.index.dimension)
            try loaded.load(entries)
            index.withLock { $0 = loaded }
            log("shard \(settings.shard): loaded \(entries.count) vectors, codebook \(String(version, radix: 16))")
        } else {
            log("shard \(settings.shard): no codebook yet; waiting for the coordinator to push one")
        }
    }

    /// Decodes a frame, checks token and collection, runs the request and encodes the reply.
    /// Never throws and never crashes on bad input: every failure becomes a typed error reply.
    public func handle(_ frame: [UInt8]) -> [UInt8] {
        let started = DispatchTime.now().uptimeNanoseconds
        let request: Request
        do {
            guard frame.count <= settings.maxFrameBytes else {
                throw WireError.oversized(bytes: frame.count, limit: settings.maxFrameBytes)
            }
            request = try WireCodec.decodeRequest(frame, limit: settings.maxFrameBytes)
        } catch let error as WireError {
            return WireCodec.encode(Response(requestID: WireCodec.bestEffortRequestID(frame), body: .error(ErrorReply(error.code, error.description))))
        } catch {
            return WireCodec.encode(Response(requestID: 0, body: .error(ErrorReply(.internalError, "\(error)"))))
        }
        let body: ResponseBody
        if !settings.token.isEmpty, !constantTimeEquals(request.envelope.token, settings.token) {
            body = .error(ErrorReply(.unauthorized, request.envelope.token.isEmpty ? "missing token" : "wrong token"))
        } else if !request.envelope.collection.isEmpty, !settings.collection.isEmpty, request.envelope.collection != settings.collection {
            body = .error(ErrorReply(.notFound, "unknown collection \"\(request.envelope.collection)\""))
        } else {
            do {
                body = try respond(to: request.body)
            } catch {
                body = .error(ServiceErrors.reply(for: error))
            }
        }
        if case .search = request.body { latencies.record(seconds: elapsed(since: started)) }
        if case .searchBatch = request.body { latencies.record(seconds: elapsed(since: started)) }
        return WireCodec.encode(Response(requestID: request.envelope.requestID, body: body))
    }

    func elapsed(since start: UInt64) -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }

    /// The index snapshot, or an error when no codebook has been pushed yet.
    func snapshot() throws -> ShardIndex {
        guard let current = index.withLock({ $0 }) else {
            throw ErrorReply(.unavailable, "shard \(settings.shard) has no codebook yet: the coordinator pushes it on start")
        }
        return current
    }
}

/// The in-memory shard: the codebook version and the index holding the shard's vectors.
struct ShardIndex: Sendable {
    var version: UInt64
    var index: IVFPQIndex

    mutating func load(_ entries: [StoredEntry]) throws {
        let m = index.codeSize
        var ids: [VectorID] = [], lists: [Int32] = [], codes: [UInt8] = [], vectors: [Float] = []
        for entry in entries {
            guard entry.code.count == m, entry.list >= 0, Int(entry.list) < index.listCount else {
                throw StoreError.corrupt("entry \(entry.id) has a \(entry.code.count)-byte code in list \(entry.list)")
            }
            ids.append(VectorID(entry.id))
            lists.append(entry.list)
            codes.append(contentsOf: entry.code)
            if index.configuration.storesVectors {
                guard let vector = entry.vector else { throw StoreError.corrupt("entry \(entry.id) lacks its stored vector") }
                vectors.append(contentsOf: vector)
            }
        }
        let matrix = index.configuration.storesVectors ? try Matrix(dimension: index.dimension, values: vectors) : nil
        index.append(matrix, ids: ids, lists: lists, codes: codes)
        index.compact()
    }
}

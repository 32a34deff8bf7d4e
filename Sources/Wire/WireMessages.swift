/// Swift forms of the messages in `Proto/sightline.proto`. Services and clients speak these;
/// `WireCodec` turns them into protobuf bytes through protobuf-c and back.

/// The protocol version this build speaks (`Envelope.protocol_version`).
public let wireProtocolVersion: UInt32 = 1

public struct Envelope: Sendable, Equatable {
    public var protocolVersion: UInt32
    public var requestID: UInt64
    /// The token's bytes, exactly as sent.
    public var token: [UInt8]
    /// Budget in milliseconds from sending; 0 = the server's default.
    public var deadlineMilliseconds: UInt32
    /// Empty means the default collection.
    public var collection: String
    /// A replicated write's place in its shard's sequence (nil: none).
    public var sequence: WriteSequence?

    public init(requestID: UInt64, token: String, deadlineMilliseconds: UInt32 = 0, collection: String = "",
                protocolVersion: UInt32 = wireProtocolVersion, sequence: WriteSequence? = nil) {
        self.init(requestID: requestID, tokenBytes: Array(token.utf8), deadlineMilliseconds: deadlineMilliseconds,
                  collection: collection, protocolVersion: protocolVersion, sequence: sequence)
    }

    public init(requestID: UInt64, tokenBytes: [UInt8], deadlineMilliseconds: UInt32 = 0, collection: String = "",
                protocolVersion: UInt32 = wireProtocolVersion, sequence: WriteSequence? = nil) {
        self.protocolVersion = protocolVersion
        self.requestID = requestID
        self.token = tokenBytes
        self.deadlineMilliseconds = deadlineMilliseconds
        self.collection = collection
        self.sequence = sequence
    }
}

public struct SearchOptions: Sendable, Equatable {
    public var k: Int
    public var nprobe: Int
    public var refine: Int
    /// The shard map version the coordinator routes by; 0 from clients.
    public var mapVersion: UInt64
    /// From the coordinator: per query, `nprobe` lists to scan and their query-to-centroid terms
    /// (row-major, queries × nprobe). Empty: the worker ranks the centroids itself.
    public var probeLists: [UInt32]
    public var probeTerms: [Float]
    /// Each query's products computed on their own: answers equal each query searched alone.
    public var queriesApart: Bool
    /// Lists kept of the nprobe: those within this ratio of the 4th-nearest centroid (0: all).
    public var probeRatio: Float
    /// Largest probe ratio a service takes: past it every one of the nprobe lists is kept anyway.
    public static let maxProbeRatio: Float = 1e6
    /// A probe ratio a service takes: 0 (off) or 1 … `maxProbeRatio` (NaN is not).
    public static func isValidProbeRatio(_ ratio: Float) -> Bool { ratio == 0 || (ratio >= 1 && ratio <= maxProbeRatio) }
    public init(k: Int, nprobe: Int, refine: Int = 0, mapVersion: UInt64 = 0, probeLists: [UInt32] = [], probeTerms: [Float] = [],
                queriesApart: Bool = false, probeRatio: Float = 0) {
        self.queriesApart = queriesApart
        self.probeRatio = probeRatio
        self.k = k
        self.nprobe = nprobe
        self.refine = refine
        self.mapVersion = mapVersion
        self.probeLists = probeLists
        self.probeTerms = probeTerms
    }
}

/// `values.count / dimension` vectors, row-major.
public struct VectorBatch: Sendable, Equatable {
    public var dimension: Int
    public var values: [Float]
    public init(dimension: Int, values: [Float]) {
        self.dimension = dimension
        self.values = values
    }
    public var count: Int { dimension > 0 ? values.count / dimension : 0 }
}

public struct AddBatch: Sendable, Equatable {
    public var ids: [UInt64]
    public var vectors: VectorBatch
    /// Empty, or one per id.
    public var labels: [Int32]
    /// Empty, or one per id.
    public var keys: [String]
    public var codebookVersion: UInt64
    /// Empty, or one small image per id (empty = none): kept by the coordinator, never sent to workers.
    public var thumbnails: [[UInt8]]

    public init(ids: [UInt64], vectors: VectorBatch, labels: [Int32] = [], keys: [String] = [], codebookVersion: UInt64 = 0,
                thumbnails: [[UInt8]] = []) {
        self.ids = ids
        self.vectors = vectors
        self.labels = labels
        self.keys = keys
        self.codebookVersion = codebookVersion
        self.thumbnails = thumbnails
    }
}

public struct ShardTransfer: Sendable, Equatable {
    public var codebookVersion: UInt64
    public var ids: [UInt64]
    public var lists: [UInt32]
    public var codes: [UInt8]
    /// Empty, or one per id.
    public var labels: [Int32]
    /// Empty (every label present), or one per id.
    public var labeled: [Bool]
    /// Empty, or one per id ("" = no key).
    public var keys: [String]
    /// Empty, or ids.count × dimension floats.
    public var vectors: [Float]
    public init(codebookVersion: UInt64, ids: [UInt64], lists: [UInt32], codes: [UInt8], labels: [Int32] = [],
                labeled: [Bool] = [], keys: [String] = [], vectors: [Float] = []) {
        self.codebookVersion = codebookVersion
        self.ids = ids
        self.lists = lists
        self.codes = codes
        self.labels = labels
        self.labeled = labeled
        self.keys = keys
        self.vectors = vectors
    }
}

public enum VerifyQuery: Sendable, Equatable {
    case vectors(a: [Float], b: [Float], threshold: Float)
    case ids(a: UInt64, b: UInt64, threshold: Float)
}

public enum RequestBody: Sendable, Equatable {
    case search(vector: [Float], options: SearchOptions)
    case searchBatch(VectorBatch, options: SearchOptions)
    case add(AddBatch)
    case delete(ids: [UInt64])
    case stats
    case health
    case codebookPush(version: UInt64, indexFile: [UInt8])
    case codebookFetch
    case shardTransfer(ShardTransfer)
    case verify(VerifyQuery)
    case identify(vector: [Float], threshold: Float, nprobe: Int)
    case fetchVectors(ids: [UInt64])
    case placementUpdate([Placement])
    case shardExport(after: UInt64?, limit: Int)
    case shardFlow(FlowQuery)
    case clusterStatus
    case clusterChange(ClusterChangeRequest)
    case backup(BackupStep)
    case replicaPull(ReplicaPull)
    case replicaApply(ReplicaApply)

    /// True for the two search requests (timed in a worker's stats).
    public var isSearch: Bool {
        switch self {
        case .search, .searchBatch: return true
        default: return false
        }
    }
}

public struct Request: Sendable, Equatable {
    public var envelope: Envelope
    public var body: RequestBody
    public init(envelope: Envelope, body: RequestBody) {
        self.envelope = envelope
        self.body = body
    }
}

/// `Proto/sightline.proto` `ErrorCode`.
public enum ErrorCode: UInt32, Sendable, Equatable {
    case unspecified = 0, badRequest = 1, unauthorized = 2, notFound = 3, unavailable = 4
    case deadlineExceeded = 5, conflict = 6, internalError = 7, unsupportedVersion = 8, forbidden = 9
}

public struct ErrorReply: Sendable, Equatable, Error, CustomStringConvertible {
    public var code: ErrorCode
    public var message: String
    /// A failed add: the ids that did commit everywhere they had to.
    public var committedIDs: [UInt64]
    public init(_ code: ErrorCode, _ message: String, committedIDs: [UInt64] = []) {
        self.code = code
        self.message = message
        self.committedIDs = committedIDs
    }
    public var description: String { "\(code): \(message)" }
}

/// One query's neighbours, best first.
public struct NeighborList: Sendable, Equatable {
    public var ids: [UInt64]
    public var distances: [Float]
    public init(ids: [UInt64], distances: [Float]) {
        self.ids = ids
        self.distances = distances
    }
}

public struct SearchReply: Sendable, Equatable {
    public var results: [NeighborList]
    public var partial: Bool
    public var missingShards: [UInt32]
    public init(results: [NeighborList], partial: Bool = false, missingShards: [UInt32] = []) {
        self.results = results
        self.partial = partial
        self.missingShards = missingShards
    }
}

public struct ShardStatsReply: Sendable, Equatable {
    public var shard: UInt32 = 0
    public var vectorCount: UInt64 = 0
    public var listSizes: [UInt32] = []
    public var memoryBytes: UInt64 = 0
    public var queriesServed: UInt64 = 0
    public var latencyP50Milliseconds: Float = 0
    public var latencyP95Milliseconds: Float = 0
    public var latencyP99Milliseconds: Float = 0
    public var codebookVersion: UInt64 = 0
    public var url = ""
    public var reachable = false
    public init() {}
}

public struct HealthReply: Sendable, Equatable {
    public var cluster: String
    public var shard: UInt32
    public var codebookVersion: UInt64
    public var vectorCount: UInt64
    public var state: String
    public var shards: [ShardStatsReply]
    /// The placement versions a worker serves by (0 = none pushed yet).
    public var mapVersion: UInt64
    public var pendingMapVersion: UInt64
    /// Entries a worker stores but no longer owns (never served; being deleted in the background).
    public var unownedCount: UInt64
    /// The sequence number of the last write a worker applied.
    public var lastSeq: UInt64
    public init(cluster: String, shard: UInt32, codebookVersion: UInt64, vectorCount: UInt64, state: String,
                shards: [ShardStatsReply] = [], mapVersion: UInt64 = 0, pendingMapVersion: UInt64 = 0, unownedCount: UInt64 = 0,
                lastSeq: UInt64 = 0) {
        self.lastSeq = lastSeq
        self.cluster = cluster
        self.shard = shard
        self.codebookVersion = codebookVersion
        self.vectorCount = vectorCount
        self.state = state
        self.shards = shards
        self.mapVersion = mapVersion
        self.pendingMapVersion = pendingMapVersion
        self.unownedCount = unownedCount
    }
}

public struct IdentifyReply: Sendable, Equatable {
    public var found: Bool
    public var id: UInt64
    public var label: Int32?
    public var key: String
    public var distance: Float
    public var partial: Bool
    public init(found: Bool, id: UInt64 = 0, label: Int32? = nil, key: String = "", distance: Float = 0, partial: Bool = false) {
        self.found = found
        self.id = id
        self.label = label
        self.key = key
        self.distance = distance
        self.partial = partial
    }
}

public struct FetchedVectors: Sendable, Equatable {
    public var dimension: Int
    public var found: [UInt64]
    public var values: [Float]
    public var approximate: Bool
    public init(dimension: Int, found: [UInt64], values: [Float], approximate: Bool) {
        self.dimension = dimension
        self.found = found
        self.values = values
        self.approximate = approximate
    }
}

public enum ResponseBody: Sendable, Equatable {
    case error(ErrorReply)
    case search(SearchReply)
    case searchBatch(SearchReply)
    /// `ignoredIDs`: from a worker, the ids it already held (the coordinator answers with counts only).
    case add(added: UInt64, ignored: UInt64, ignoredIDs: [UInt64] = [])
    case delete(deleted: UInt64)
    case stats(shards: [ShardStatsReply], totalVectors: UInt64)
    case health(HealthReply)
    case codebookPush(version: UInt64)
    case codebookFetch(version: UInt64, indexFile: [UInt8])
    case shardTransfer(accepted: UInt64)
    case verify(distance: Float, same: Bool, approximate: Bool)
    case identify(IdentifyReply)
    case fetchVectors(FetchedVectors)
    case placementUpdate(PlacementCounts)
    case shardExport(ExportPage)
    case shardFlow(FlowReply)
    case clusterStatus(ClusterStatusReply)
    case clusterChange(ClusterStatusReply)
    case backup(BackupReply)
    case replicaPull(ReplicaPage)
    case replicaApply(lastSeq: UInt64)
}

public struct Response: Sendable, Equatable {
    public var requestID: UInt64
    public var body: ResponseBody
    public init(requestID: UInt64, body: ResponseBody) {
        self.requestID = requestID
        self.body = body
    }
}

extension RequestBody {
    /// How many result lists the reply to this request carries: one per query of a search batch.
    public var repliedLists: Int {
        if case .searchBatch(let batch, _) = self { return batch.count }
        return 0
    }
}

import CProtobufC
import CSightlineProto

/// Where a worker runs a request: on the thread that received it, or on its idle-priority lane
/// with the other bulk work (a move's pages, a backup's reads, a replica's catch-up), so that
/// bulk work takes only the CPU that searches leave.
public enum RequestLane: Sendable, Equatable {
    case received
    case idle
}

/// One kind of request: a member of `Request.body` in `Proto/sightline.proto`. The table below is
/// the one place that says, per kind, the least role that may send it and the lane a worker runs
/// it on. The field number is protoc-c's generated constant and the name is read from protoc-c's
/// descriptor, so neither is spelled again here. Adding a request kind: a proto field, a case of
/// `RequestBody` with its row in `RequestBody.kind`, a row here, and the codec's two directions.
public struct RequestKind: Sendable, Hashable, CustomStringConvertible {
    /// The body's field number in `Request`.
    public let fieldNumber: UInt64
    /// The field's name in `Proto/sightline.proto` (for logs, errors and metrics).
    public let name: String
    /// The least role whose token may send it.
    public let leastRole: AccessRole
    /// Where a worker runs it.
    public let lane: RequestLane

    init(_ field: Sightline__V1__Request__BodyCase, _ leastRole: AccessRole, _ lane: RequestLane = .received) {
        fieldNumber = UInt64(field.rawValue)
        let descriptor = withUnsafePointer(to: sightline__v1__request__descriptor) {
            protobuf_c_message_descriptor_get_field($0, UInt32(field.rawValue))
        }
        // A row whose constant is not a field of `Request` is a bug in this table, found at start.
        precondition(descriptor != nil, "request body field \(field.rawValue) is not in Proto/sightline.proto")
        name = String(cString: descriptor!.pointee.name)
        self.leastRole = leastRole
        self.lane = lane
    }

    public var description: String { name }

    public static func == (lhs: RequestKind, rhs: RequestKind) -> Bool { lhs.fieldNumber == rhs.fieldNumber }
    public func hash(into hasher: inout Hasher) { hasher.combine(fieldNumber) }

    // Queries and reads: any token.
    public static let search = RequestKind(SIGHTLINE__V1__REQUEST__BODY_SEARCH, .read)
    public static let searchBatch = RequestKind(SIGHTLINE__V1__REQUEST__BODY_SEARCH_BATCH, .read)
    public static let stats = RequestKind(SIGHTLINE__V1__REQUEST__BODY_STATS, .read)
    public static let health = RequestKind(SIGHTLINE__V1__REQUEST__BODY_HEALTH, .read)
    public static let codebookFetch = RequestKind(SIGHTLINE__V1__REQUEST__BODY_CODEBOOK_FETCH, .read)
    public static let verify = RequestKind(SIGHTLINE__V1__REQUEST__BODY_VERIFY, .read)
    public static let identify = RequestKind(SIGHTLINE__V1__REQUEST__BODY_IDENTIFY, .read)
    public static let fetchVectors = RequestKind(SIGHTLINE__V1__REQUEST__BODY_FETCH_VECTORS, .read)
    public static let clusterStatus = RequestKind(SIGHTLINE__V1__REQUEST__BODY_CLUSTER_STATUS, .read)
    // Changes to the collection: a write token.
    public static let add = RequestKind(SIGHTLINE__V1__REQUEST__BODY_ADD, .write)
    public static let delete = RequestKind(SIGHTLINE__V1__REQUEST__BODY_DELETE, .write)
    // The cluster's own traffic and its operations: the cluster token.
    public static let codebookPush = RequestKind(SIGHTLINE__V1__REQUEST__BODY_CODEBOOK_PUSH, .cluster)
    public static let clusterChange = RequestKind(SIGHTLINE__V1__REQUEST__BODY_CLUSTER_CHANGE, .cluster)
    public static let shardTransfer = RequestKind(SIGHTLINE__V1__REQUEST__BODY_SHARD_TRANSFER, .cluster, .idle)
    public static let placementUpdate = RequestKind(SIGHTLINE__V1__REQUEST__BODY_PLACEMENT_UPDATE, .cluster, .idle)
    public static let shardExport = RequestKind(SIGHTLINE__V1__REQUEST__BODY_SHARD_EXPORT, .cluster, .idle)
    public static let shardFlow = RequestKind(SIGHTLINE__V1__REQUEST__BODY_SHARD_FLOW, .cluster, .idle)
    public static let backup = RequestKind(SIGHTLINE__V1__REQUEST__BODY_BACKUP, .cluster, .idle)
    public static let replicaPull = RequestKind(SIGHTLINE__V1__REQUEST__BODY_REPLICA_PULL, .cluster, .idle)
    public static let replicaApply = RequestKind(SIGHTLINE__V1__REQUEST__BODY_REPLICA_APPLY, .cluster, .idle)

    /// Every kind, in field-number order.
    public static let all: [RequestKind] = [
        search, searchBatch, add, delete, stats, health, codebookPush, codebookFetch, shardTransfer, verify, identify,
        fetchVectors, placementUpdate, shardExport, shardFlow, clusterStatus, clusterChange, backup, replicaPull, replicaApply,
    ].sorted { $0.fieldNumber < $1.fieldNumber }

    private static let byField = Dictionary(uniqueKeysWithValues: all.map { ($0.fieldNumber, $0) })

    /// The kind whose body has field number `field`, or nil for a number `Request.body` does not use.
    public init?(fieldNumber field: UInt64) {
        guard let kind = Self.byField[field] else { return nil }
        self = kind
    }
}

extension RequestBody {
    /// The body's kind: its row in the request table.
    public var kind: RequestKind {
        switch self {
        case .search: .search
        case .searchBatch: .searchBatch
        case .add: .add
        case .delete: .delete
        case .stats: .stats
        case .health: .health
        case .codebookPush: .codebookPush
        case .codebookFetch: .codebookFetch
        case .shardTransfer: .shardTransfer
        case .verify: .verify
        case .identify: .identify
        case .fetchVectors: .fetchVectors
        case .placementUpdate: .placementUpdate
        case .shardExport: .shardExport
        case .shardFlow: .shardFlow
        case .clusterStatus: .clusterStatus
        case .clusterChange: .clusterChange
        case .backup: .backup
        case .replicaPull: .replicaPull
        case .replicaApply: .replicaApply
        }
    }

    /// The body's field number in `Proto/sightline.proto` (`Request.body`).
    public var fieldNumber: UInt64 { kind.fieldNumber }

    /// A short name for logs and errors.
    public var name: String { kind.name }

    /// The least role that may send this request.
    public var leastRole: AccessRole { kind.leastRole }
}

/// Swift forms of the shard-map messages of `Proto/sightline.proto`: placements, moves of
/// entries between shards, and the operator's cluster status and changes.

/// Rendezvous placement over `shards`, in force from map `version`.
public struct Placement: Sendable, Equatable {
    public var version: UInt64
    public var shards: [UInt32]
    public init(version: UInt64, shards: [UInt32]) {
        self.version = version
        self.shards = shards
    }
}

/// What a worker holds, relative to the placements it knows.
public struct PlacementCounts: Sendable, Equatable {
    public var settled: UInt64 = 0
    public var leaving: UInt64 = 0
    public var arriving: UInt64 = 0
    public var unowned: UInt64 = 0
    public var deleted: UInt64 = 0
    public init(settled: UInt64 = 0, leaving: UInt64 = 0, arriving: UInt64 = 0, unowned: UInt64 = 0, deleted: UInt64 = 0) {
        self.settled = settled
        self.leaving = leaving
        self.arriving = arriving
        self.unowned = unowned
        self.deleted = deleted
    }
}

public enum FlowAction: UInt32, Sendable, Equatable {
    case inventory = 1, digest = 2, drop = 3
}

public struct FlowQuery: Sendable, Equatable {
    public var action: FlowAction
    public var fromShard: UInt32
    public var toShard: UInt32
    public init(action: FlowAction, fromShard: UInt32 = 0, toShard: UInt32 = 0) {
        self.action = action
        self.fromShard = fromShard
        self.toShard = toShard
    }
}

/// `count` entries owned by `from` under the older placement and by `to` under the newer.
public struct Flow: Sendable, Equatable, Codable {
    public var from: UInt32
    public var to: UInt32
    public var count: UInt64
    public init(from: UInt32, to: UInt32, count: UInt64) {
        self.from = from
        self.to = to
        self.count = count
    }
}

public struct FlowReply: Sendable, Equatable {
    public var flows: [Flow]
    public var listCounts: [UInt32]
    public var listDigests: [UInt64]
    public var dropped: UInt64
    public init(flows: [Flow] = [], listCounts: [UInt32] = [], listDigests: [UInt64] = [], dropped: UInt64 = 0) {
        self.flows = flows
        self.listCounts = listCounts
        self.listDigests = listDigests
        self.dropped = dropped
    }
}

/// One page of a source's leaving entries; `next` is nil when the source has no more.
public struct ExportPage: Sendable, Equatable {
    public var entries: ShardTransfer
    public var next: UInt64?
    public init(entries: ShardTransfer, next: UInt64?) {
        self.entries = entries
        self.next = next
    }
}

public enum ClusterChange: Sendable, Equatable {
    case addWorker(url: String, host: String)
    case removeWorker(shard: UInt32)
    case rebalance
    /// Cancels the move in progress before its flip (`sightline cluster rebalance --abort`).
    case abortMove
    /// A new replica of `shard` at `url`; `replacing` leaves the shard ("" = none): at once when
    /// it is not in sync, else once the new replica is.
    case addReplica(url: String, host: String, shard: UInt32, replacing: String)
    /// A new shard with a copy at each of `urls` (`hosts`: none, or one per url).
    case addShard(urls: [String], hosts: [String])
    /// The copy of `shard` at `url` leaves it.
    case removeReplica(shard: UInt32, url: String)
    /// Every shard gets `replication` copies: `urls` join (or, lowering, leave when named).
    case setReplication(replication: UInt32, urls: [String], hosts: [String])
    /// Every copy on `host` is replaced by one of `urls` or leaves when its shard can spare it.
    case drainHost(host: String, urls: [String], hosts: [String])
}

extension ClusterChange {
    /// Workers a change may name at most (a peer's list is bounded before it is used).
    public static let maxURLs = 64
}

public struct ClusterChangeRequest: Sendable, Equatable {
    public var change: ClusterChange
    public var dryRun: Bool
    /// Entries per second at most; 0 = unlimited.
    public var rate: UInt32
    public init(change: ClusterChange, dryRun: Bool = false, rate: UInt32 = 0) {
        self.change = change
        self.dryRun = dryRun
        self.rate = rate
    }
}

public struct ShardEntry: Sendable, Equatable, Codable {
    public var shard: UInt32
    public var url: String
    public var host: String
    public var state: String
    public var vectorCount: UInt64
    public var reachable: Bool
    /// A replicated shard's copy: "in-sync", "catching-up", "joining" or "down" ("" when not replicated).
    public var replicaState: String
    public init(shard: UInt32, url: String, host: String = "", state: String, vectorCount: UInt64 = 0, reachable: Bool = false,
                replicaState: String = "") {
        self.replicaState = replicaState
        self.shard = shard
        self.url = url
        self.host = host
        self.state = state
        self.vectorCount = vectorCount
        self.reachable = reachable
    }
}

public struct MoveStatus: Sendable, Equatable, Codable {
    public var kind: String
    public var shard: UInt32
    public var fromVersion: UInt64
    public var toVersion: UInt64
    public var step: String
    public var copied: UInt64
    public var total: UInt64
    public var error: String
    public init(kind: String, shard: UInt32, fromVersion: UInt64, toVersion: UInt64, step: String, copied: UInt64 = 0,
                total: UInt64 = 0, error: String = "") {
        self.kind = kind
        self.shard = shard
        self.fromVersion = fromVersion
        self.toVersion = toVersion
        self.step = step
        self.copied = copied
        self.total = total
        self.error = error
    }
}

public struct ClusterStatusReply: Sendable, Equatable, Codable {
    public var mapVersion: UInt64
    public var shards: [ShardEntry]
    public var move: MoveStatus?
    public var plan: [Flow]
    public var warning: String
    public init(mapVersion: UInt64, shards: [ShardEntry], move: MoveStatus? = nil, plan: [Flow] = [], warning: String = "") {
        self.mapVersion = mapVersion
        self.shards = shards
        self.move = move
        self.plan = plan
        self.warning = warning
    }
}

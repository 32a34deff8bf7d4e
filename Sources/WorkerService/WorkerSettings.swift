import ClusterModel
import ShardStore
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
    /// Ids the replica log keeps for copies that catch up (`ShardDatabase.logWindowIDs`).
    public var replicaLogWindowIDs: UInt64 = WorkerSettings.defaultReplicaLogWindowIDs
    public static let defaultReplicaLogWindowIDs = ShardDatabase.defaultLogWindowIDs

    public init(cluster: String, shard: ShardID, token: String, dataDirectory: String) {
        self.cluster = cluster
        self.shard = shard
        self.token = token
        self.dataDirectory = dataDirectory
    }
}

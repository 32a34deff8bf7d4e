import ClusterModel
import Wire

/// What the coordinator knows of one worker, refreshed by the health loop.
struct WorkerState: Sendable {
    var reachable = false
    var codebookVersion: UInt64 = 0
    var vectorCount: UInt64 = 0
    var state = "unknown"
    /// The last replicated write it applied.
    var lastSeq: UInt64 = 0
}

/// One call of a fan-out: the worker it goes to, and a replicated write's number.
struct WorkerCall: Sendable {
    var shard: ShardID
    var url: String
    var body: RequestBody
    var sequence: WriteSequence? = nil
    /// Where the call sits in its fan-out (replies that arrive out of order find their place).
    var position = 0
}

/// A replicated shard's write numbering: the last write committed (the `previous` of the next)
/// and the numbers reserved in the catalog (never handed out twice, even across restarts).
struct ShardSequence: Sendable {
    var lastCommitted: UInt64
    var next: UInt64
    var reserved: UInt64
}

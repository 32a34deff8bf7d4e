import ClusterModel
import Synchronization
import VectorMath
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

/// What the health loop last saw of each worker, by URL (a replicated shard has several). The
/// health monitor records it; requests read it (vector counts, reachability) and adds keep the
/// counts current between rounds. Its lock is a leaf: held only to copy or change values.
final class WorkerStates: Sendable {
    private let directory: ShardDirectory
    private let states = Mutex<[String: WorkerState]>([:])

    init(directory: ShardDirectory) {
        self.directory = directory
    }

    func record(_ state: WorkerState, at url: String) { states.withLock { $0[url] = state } }

    /// Every worker's state, by URL.
    func all() -> [String: WorkerState] { states.withLock { $0 } }

    func state(at url: String) -> WorkerState? { states.withLock { $0[url] } }

    /// What is known of `shard`: that of its copy with the most vectors among those in sync.
    func state(of shard: ShardID) -> WorkerState {
        let copies = directory.inSyncCopies(of: shard)
        return states.withLock { states in copies.compactMap { states[$0] }.max { $0.vectorCount < $1.vectorCount } } ?? WorkerState()
    }

    /// The vectors of `shards`; counts come from the workers: added without trapping, whatever they claim.
    func vectorTotal(of shards: [ShardID]) -> UInt64 {
        shards.reduce(0) { $0.saturatingAdd(state(of: $1).vectorCount) }
    }

    /// Adds `delta` (or takes it away) from the vector counts of `shard`'s in-sync copies.
    func adjustCount(of shard: ShardID, by delta: Int64) {
        let copies = directory.inSyncCopies(of: shard)
        states.withLock { states in
            for url in copies {
                let count = states[url, default: WorkerState()].vectorCount
                states[url, default: WorkerState()].vectorCount = delta >= 0 ? count.saturatingAdd(UInt64(delta))
                                                                             : count - min(count, delta.magnitude)
            }
        }
    }
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

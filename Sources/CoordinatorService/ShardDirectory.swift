import ClusterModel
import ShardStore
import Synchronization

/// The coordinator's one copy of where things are: the shard map in force, the move between two
/// maps if one runs, the copies of each shard and their states, and the searches running per map
/// version (`Routing`). Everything the coordinator routes by is read here, under one lock held
/// only to copy values out or to make one change: never while calling a worker or the catalog.
final class ShardDirectory: Sendable {
    private let routing: Mutex<Routing>

    init(_ initial: Routing) {
        routing = Mutex(initial)
    }

    /// Reads or changes the routing under its lock.
    func withLock<T: Sendable>(_ body: (inout Routing) throws -> T) rethrows -> T {
        try routing.withLock { try body(&$0) }
    }

    /// True when `shard` has more than one copy.
    func isReplicated(_ shard: ShardID) -> Bool { withLock { $0.replicas(of: shard).count > 1 } }

    /// The URLs of `shard`'s copies that are in sync (that may serve and take numbered writes).
    func inSyncCopies(of shard: ShardID) -> [String] {
        withLock { $0.replicas(of: shard) }.filter { $0.state == ReplicaState.inSync }.map(\.url)
    }

    /// Every copy of `shard` (the one worker the maps name when it has no replica set).
    func copies(of shard: ShardID) -> [ReplicaRecord] { withLock { $0.replicas(of: shard) } }
}

/// The states a replica is recorded in.
enum ReplicaState {
    static let inSync = "in-sync"
    static let catchingUp = "catching-up"
    static let joining = "joining"
}

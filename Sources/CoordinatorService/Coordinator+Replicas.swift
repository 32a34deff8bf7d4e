import ClusterClient
import ClusterModel
import Dispatch
import Foundation
import ShardStore
import Synchronization
import VectorMath
import Wire

/// Replicated shards: reads go to one in-sync copy (the least busy), hedged to another when the
/// first is slow or fails; writes are numbered per shard and go to every in-sync copy; a copy
/// that fails a write leaves the in-sync set and catches up before it serves again.
extension Coordinator {
    func isReplicated(_ shard: ShardID) -> Bool { routing.isReplicated(shard) }

    /// Copies of `shard` that may serve, the least busy first (open breakers last).
    func servingReplicas(of shard: ShardID) -> [String] {
        pool.rank(routing.inSyncCopies(of: shard))
    }

    /// The copy a single call goes to. A replicated shard with no copy in sync has none: a copy
    /// that is catching up (or came back emptied) must not answer for the shard.
    func preferredReplica(of shard: ShardID) -> String? {
        if let first = servingReplicas(of: shard).first { return first }
        let copies = routing.withLock { $0.replicas(of: shard) }
        return copies.count == 1 ? copies[0].url : nil
    }

    /// One body per shard, read from one copy each. For replicated shards a copy that fails, or
    /// has not answered within the hedging delay, is backed up by the next copy; the first
    /// answer wins (`WorkerPool.hedgedRead`).
    func readFanOut(_ bodies: [ShardID: RequestBody], deadlineMilliseconds: Int) -> [ShardID: Result<ResponseBody, ErrorReply>] {
        // An unreplicated cluster (one lock to tell) takes the plain fan-out straight away.
        guard routing.withLock({ $0.isReplicated }), bodies.keys.contains(where: { servingReplicas(of: $0).count > 1 }) else {
            return fanOut(bodies, deadlineMilliseconds: deadlineMilliseconds)
        }
        return pool.hedgedRead(bodies, deadlineMilliseconds: deadlineMilliseconds) { servingReplicas(of: $0) }
    }
}

/// The states a replica is recorded in.
enum ReplicaState {
    static let inSync = "in-sync"
    static let catchingUp = "catching-up"
    static let joining = "joining"
}

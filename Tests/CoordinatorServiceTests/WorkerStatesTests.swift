import ClusterModel
import Testing
import Wire
@testable import CoordinatorService
@testable import ShardStore

/// `WorkerStates` directly: a shard is known by its in-sync copies, counts never wrap.
@Suite struct WorkerStatesTests {
    static func states(_ copies: [(String, String)]) -> WorkerStates {
        var routing = Routing(current: ShardMap(version: 1, shards: [MapShard(shard: 0, url: copies[0].0)]))
        routing.replicaSets[0] = copies.map { ReplicaRecord(shard: 0, url: $0.0, state: $0.1) }
        return WorkerStates(directory: ShardDirectory(routing))
    }

    static func seen(_ vectors: UInt64) -> WorkerState {
        WorkerState(reachable: true, codebookVersion: 1, vectorCount: vectors, state: "serving", lastSeq: 0)
    }

    @Test func aShardIsKnownByItsInSyncCopyWithTheMostVectors() {
        let states = Self.states([("a", ReplicaState.inSync), ("b", ReplicaState.inSync), ("c", ReplicaState.catchingUp)])
        states.record(Self.seen(10), at: "a")
        states.record(Self.seen(12), at: "b")
        // A copy catching up may claim anything (a restored directory): it does not count.
        states.record(Self.seen(1_000), at: "c")
        #expect(states.state(of: ShardID(0)).vectorCount == 12)
        #expect(states.vectorTotal(of: [ShardID(0)]) == 12)
        #expect(states.state(of: ShardID(5)).reachable == false)
    }

    @Test func addsAndDeletesMoveTheInSyncCountsWithoutWrapping() {
        let states = Self.states([("a", ReplicaState.inSync), ("b", ReplicaState.catchingUp)])
        states.record(Self.seen(10), at: "a")
        states.record(Self.seen(10), at: "b")
        states.adjustCount(of: ShardID(0), by: 5)
        #expect(states.state(at: "a")?.vectorCount == 15)
        #expect(states.state(at: "b")?.vectorCount == 10)
        states.adjustCount(of: ShardID(0), by: -100)
        #expect(states.state(at: "a")?.vectorCount == 0)
        states.record(Self.seen(.max - 1), at: "a")
        states.adjustCount(of: ShardID(0), by: .max)
        #expect(states.state(at: "a")?.vectorCount == .max)
        states.adjustCount(of: ShardID(0), by: .min)
        #expect(states.state(at: "a")?.vectorCount == .max - Int64.min.magnitude)
        states.adjustCount(of: ShardID(0), by: .min)
        #expect(states.state(at: "a")?.vectorCount == 0)
    }
}

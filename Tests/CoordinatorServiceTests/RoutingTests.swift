import ClusterModel
import Testing
import Wire
@testable import CoordinatorService
@testable import ShardStore

@Suite struct RoutingTests {
    static let before = ShardMap(version: 1, shards: [MapShard(shard: 0, url: "w0"), MapShard(shard: 1, url: "w1")])
    static let after = ShardMap(version: 2, shards: [MapShard(shard: 0, url: "w0"), MapShard(shard: 1, url: "w1"),
                                                     MapShard(shard: 2, url: "w2")])

    static func moving(at step: MoveRecord.Step) -> Routing {
        var routing = Routing(current: before)
        routing.move = MoveRecord(fromVersion: 1, toVersion: 2, kind: "add-worker", shard: 2, step: step, copied: 0, total: 0,
                                  rate: 0, error: "")
        routing.fromMap = before
        routing.toMap = after
        return routing
    }

    @Test func writesGoToBothOwnersOnlyWhileAMoveCopies() {
        let ids = UInt64(0) ..< 2_000
        let movers = ids.filter { Rendezvous.owner(of: $0, among: [0, 1, 2].map { ShardID($0) }) == ShardID(2) }
        #expect(!movers.isEmpty)
        for step in MoveRecord.Step.allCases {
            let routing = Self.moving(at: step)
            for id in ids {
                let (owner, copy) = routing.writeOwners(of: id)
                #expect(owner == Rendezvous.owner(of: id, among: [ShardID(0), ShardID(1)]))
                let dual = [.begin, .copy, .verify].contains(step) && movers.contains(id)
                #expect(copy == (dual ? ShardID(2) : nil), "\(step) \(id)")
            }
        }
        #expect(Routing(current: Self.before).writeOwners(of: movers[0]).copy == nil)
    }

    @Test func workersServeBothMapsFromBeginAndOneOtherwise() {
        #expect(Self.moving(at: .planned).workerPlacements.map(\.version) == [1])
        for step in [MoveRecord.Step.begin, .copy, .verify, .flip, .delete] {
            #expect(Self.moving(at: step).workerPlacements.map(\.version) == [1, 2], "\(step)")
        }
        #expect(Self.moving(at: .copy).involvedShards == [0, 1, 2].map { ShardID($0) })
        #expect(Routing(current: Self.before).involvedShards == [0, 1].map { ShardID($0) })
    }

    @Test func aShardWithoutAReplicaSetHasItsMapsWorkerAsItsOneCopy() {
        var routing = Self.moving(at: .copy)
        #expect(routing.replicas(of: ShardID(2)).map(\.url) == ["w2"])   // only in the next map
        #expect(routing.replicas(of: ShardID(9)).isEmpty)
        #expect(!routing.isReplicated)
        routing.replicaSets[0] = [ReplicaRecord(shard: 0, url: "a"), ReplicaRecord(shard: 0, url: "b")]
        #expect(routing.replicas(of: ShardID(0)).map(\.url) == ["a", "b"])
        #expect(routing.isReplicated)
    }
}

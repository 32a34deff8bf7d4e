import ClusterModel
import Testing
import Wire
@testable import WorkerService

/// What a worker serves and accepts under the placements it knows, without a process or a store.
@Suite struct ShardPlacementTests {
    static let shard = ShardID(2)
    static let before = Placement(version: 1, shards: [0, 1])
    static let after = Placement(version: 2, shards: [0, 1, 2])

    @Test func entriesMoveInAsTheNewMapGivesThemToTheShard() {
        let ids = UInt64(0) ..< 3_000
        let none = ShardPlacement(shard: Self.shard)
        #expect(ids.allSatisfy { none.part(of: $0) == .settled })       // told nothing yet: serves all it holds
        let moving = ShardPlacement(shard: Self.shard, placements: [Self.before, Self.after])
        let arriving = ids.filter { Rendezvous.owner(of: $0, among: [0, 1, 2].map { ShardID($0) }) == Self.shard }
        #expect(!arriving.isEmpty)
        for id in ids {
            #expect(moving.part(of: id) == (arriving.contains(id) ? .arriving : .unowned), "\(id)")
        }
        let settled = ShardPlacement(shard: Self.shard, placements: [Self.after])
        #expect(ids.allSatisfy { settled.part(of: $0) == (arriving.contains($0) ? .settled : .unowned) })
    }

    @Test func searchesOfEachMapReadTheirParts() throws {
        let moving = ShardPlacement(shard: ShardID(0), placements: [Self.before, Self.after])
        #expect(try moving.servedParts(mapVersion: 1) == [.settled, .leaving])
        #expect(try moving.servedParts(mapVersion: 0) == [.settled, .leaving])
        #expect(try moving.servedParts(mapVersion: 2) == [.settled, .arriving])
        #expect(throws: ErrorReply.self) { try moving.servedParts(mapVersion: 3) }
    }

    @Test func updatesNeverGoBackAndNeverDropTheShardUnannounced() throws {
        let settled = ShardPlacement(shard: Self.shard, placements: [Self.after])
        #expect((try? settled.checkUpdate([Self.after, Placement(version: 3, shards: [0, 1, 2, 3])])) != nil)
        #expect(throws: ErrorReply.self) { try settled.checkUpdate([Self.before]) }                            // older map
        #expect(throws: ErrorReply.self) { try settled.checkUpdate([Placement(version: 2, shards: [0, 2])]) }  // same version, other shards
        #expect(throws: ErrorReply.self) { try settled.checkUpdate([Placement(version: 3, shards: [0, 1])]) }  // dropped unannounced
        #expect(throws: ErrorReply.self) { try settled.checkUpdate([Placement(version: 3, shards: [2, 2])]) }  // a shard twice
        #expect(throws: ErrorReply.self) { try settled.checkUpdate([]) }
        #expect(throws: ErrorReply.self) {
            try settled.checkUpdate([Placement(version: 4, shards: [2]), Placement(version: 3, shards: [2])])    // newer first
        }
        // A drained shard's last update: the next map, announced during the move, without it.
        let draining = ShardPlacement(shard: Self.shard, placements: [Self.after, Placement(version: 3, shards: [0, 1])])
        #expect((try? draining.checkUpdate([Placement(version: 3, shards: [0, 1])])) != nil)
    }
}

import Testing
@testable import ClusterModel

@Suite struct RendezvousTests {
    static let ids = (0 ..< 20_000).map { UInt64($0) &* 0x9E37_79B9 &+ 17 }

    @Test func partitionPlacesEveryIdOnceOnItsOwner() {
        let shards = (0 ..< 5).map { ShardID($0) }
        let groups = Rendezvous.partition(Self.ids, among: shards)
        let rows = groups.values.flatMap { $0 }.sorted()
        #expect(rows == Array(Self.ids.indices))
        for (shard, members) in groups {
            #expect(members.allSatisfy { Rendezvous.owner(of: Self.ids[$0], among: shards) == shard })
        }
        // Balance: each of 5 shards holds 20 % ± 2 % of 20,000 ids.
        #expect(groups.values.allSatisfy { abs($0.count - 4000) < 400 }, "\(groups.mapValues(\.count))")
    }

    @Test func ownersDoNotDependOnTheOrderOfShards() {
        let shards = [ShardID(3), ShardID(0), ShardID(9)]
        for id in Self.ids.prefix(1000) {
            #expect(Rendezvous.owner(of: id, among: shards) == Rendezvous.owner(of: id, among: shards.reversed()))
        }
    }

    /// Adding a fifth shard moves about 1/5 of the ids, all of them to the new shard; removing it
    /// again moves exactly those back.
    @Test(arguments: [1, 4, 9])
    func addingAShardMovesOnlyWhatItNowOwns(existing: Int) {
        let before = (0 ..< existing).map { ShardID(UInt32($0)) }
        let added = ShardID(UInt32(existing))
        let after = before + [added]
        var moved = 0
        for id in Self.ids {
            let old = Rendezvous.owner(of: id, among: before), new = Rendezvous.owner(of: id, among: after)
            if old != new {
                moved += 1
                #expect(new == added)
            }
        }
        let expected = Double(Self.ids.count) / Double(existing + 1)
        #expect(abs(Double(moved) - expected) < 0.1 * expected, "moved \(moved), expected about \(expected)")
    }
}

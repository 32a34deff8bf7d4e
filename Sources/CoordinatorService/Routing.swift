import ClusterModel
import ShardStore
import Wire

/// The shard map the coordinator routes by, and the move in progress, if any.
struct Routing: Sendable {
    /// The map in force: searches read its shards under its version.
    var current: ShardMap
    /// The active move (not done) and the maps it goes between.
    var move: MoveRecord?
    var fromMap: ShardMap?
    var toMap: ShardMap?
    /// Searches running per map version (a move deletes at its sources only once the old
    /// version's searches are over).
    var searchesInFlight: [UInt64: Int] = [:]
    /// The copies of each replicated shard (a shard without an entry has one: its map URL).
    var replicaSets: [UInt32: [ReplicaRecord]] = [:]

    var readShards: [ShardID] { current.placementShards.map { ShardID($0) } }

    /// True while writes must reach the owner in the next map too (from begin until the flip).
    var dualWrites: Bool {
        guard let move else { return false }
        return [.begin, .copy, .verify].contains(move.step)
    }

    /// Where a write of `id` goes: its owner in the map in force and, while a move copies, its
    /// owner in the next map when that differs.
    func writeOwners(of id: UInt64) -> (owner: ShardID, copy: ShardID?) {
        let owner = Rendezvous.owner(of: id, among: readShards)
        guard dualWrites, let toMap else { return (owner, nil) }
        let next = Rendezvous.owner(of: id, among: toMap.placementShards.map { ShardID($0) })
        return (owner, next == owner ? nil : next)
    }

    /// The placements the workers serve by: the two maps of a move from its begin until its
    /// sources have deleted, else the map in force.
    var workerPlacements: [Placement] {
        if let move, let fromMap, let toMap, move.step != .planned {
            return [Placement(version: fromMap.version, shards: fromMap.placementShards),
                    Placement(version: toMap.version, shards: toMap.placementShards)]
        }
        return [Placement(version: current.version, shards: current.placementShards)]
    }

    /// Every shard a placement update must reach: both maps' shards during a move (the drained
    /// shard included), the map in force otherwise. A shard retired by an earlier move stays
    /// listed in later maps, retired in both: it is not involved (its workers may be gone).
    var involvedShards: [ShardID] {
        var shards = Set(current.placementShards)
        if move != nil {
            for map in [fromMap, toMap].compactMap({ $0 }) { shards.formUnion(map.placementShards) }
        }
        return shards.sorted().map { ShardID($0) }
    }

    /// Every copy of `shard`: its replicas, or the one worker the maps name.
    func replicas(of shard: ShardID) -> [ReplicaRecord] {
        if let set = replicaSets[shard.rawValue], !set.isEmpty { return set }
        return entry(of: shard).map { [ReplicaRecord(shard: shard.rawValue, url: $0.url, host: $0.host)] } ?? []
    }

    /// True when some shard has more than one copy: moves between shards are refused then.
    var isReplicated: Bool { replicaSets.values.contains { $0.count > 1 } }

    /// The URL of `shard` in the newest map that lists it.
    func url(of shard: ShardID) -> String? { entry(of: shard)?.url }

    /// `shard`'s entry (URL, host) in the newest map that lists it.
    func entry(of shard: ShardID) -> MapShard? {
        for map in [toMap, current, fromMap].compactMap({ $0 }) {
            if let entry = map.shards.first(where: { $0.shard == shard.rawValue }) { return entry }
        }
        return nil
    }
}

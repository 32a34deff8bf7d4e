import ClusterModel
import Wire

/// Where an entry stands for this shard under the placements it knows.
enum EntryPart: Int, CaseIterable {
    /// Owned under every known placement: always served.
    case settled
    /// Owned under the older placement only: served to searches of the older map, moving out.
    case leaving
    /// Owned under the newer placement only: a copy moving in, served once the map flips.
    case arriving
    /// Owned under none: never served (deleted when a placement is dropped).
    case unowned
}

/// The placements a shard serves by: none (a worker that no coordinator has told yet serves
/// all it holds), one, or two during a move (older first).
struct ShardPlacement: Sendable, Equatable {
    static let maxShards = 4096

    let shard: ShardID
    private(set) var placements: [Placement]
    private var shardLists: [[ShardID]]

    init(shard: ShardID, placements: [Placement] = []) {
        self.shard = shard
        self.placements = placements
        shardLists = placements.map { $0.shards.map { ShardID($0) } }
    }

    var olderVersion: UInt64 { placements.first?.version ?? 0 }
    var newerVersion: UInt64 { placements.count == 2 ? placements[1].version : 0 }

    func owner(of id: UInt64, in placement: Int) -> UInt32 {
        Rendezvous.owner(of: id, among: shardLists[placement]).rawValue
    }

    func part(of id: UInt64) -> EntryPart {
        switch shardLists.count {
        case 0: return .settled
        case 1: return Rendezvous.owner(of: id, among: shardLists[0]) == shard ? .settled : .unowned
        default:
            let older = Rendezvous.owner(of: id, among: shardLists[0]) == shard
            let newer = Rendezvous.owner(of: id, among: shardLists[1]) == shard
            switch (older, newer) {
            case (true, true): return .settled
            case (true, false): return .leaving
            case (false, true): return .arriving
            case (false, false): return .unowned
            }
        }
    }

    /// The parts a search of map `version` reads (0: the older map, as a client talking to a
    /// worker directly expects).
    func servedParts(mapVersion version: UInt64) throws -> [EntryPart] {
        if placements.isEmpty || version == 0 || version == olderVersion {
            return placements.count == 2 ? [.settled, .leaving] : [.settled]
        }
        if version == newerVersion { return [.settled, .arriving] }
        throw ErrorReply(.conflict, "shard \(shard) does not know shard map version \(version) (it serves "
                                    + placements.map { String($0.version) }.joined(separator: " and ") + ")")
    }

    /// Checks an update against what this shard knows: one or two placements of distinct shards,
    /// versions that never go back, and no single placement without this shard unless it was
    /// already announced as the next map (a drained shard's last update).
    func checkUpdate(_ update: [Placement]) throws {
        guard (1 ... 2).contains(update.count) else {
            throw ErrorReply(.badRequest, "a placement update carries one or two placements, got \(update.count)")
        }
        for placement in update {
            guard (1 ... ShardPlacement.maxShards).contains(placement.shards.count),
                  Set(placement.shards).count == placement.shards.count, placement.version > 0 else {
                throw ErrorReply(.badRequest, "placement \(placement.version) must name 1…\(ShardPlacement.maxShards) distinct shards "
                                              + "and have a version above 0")
            }
        }
        for placement in update {
            if let known = placements.first(where: { $0.version == placement.version }), known.shards != placement.shards {
                throw ErrorReply(.conflict, "map \(placement.version) is known to shard \(shard) with other shards")
            }
        }
        if update.count == 2, update[0].version >= update[1].version {
            throw ErrorReply(.badRequest, "the older placement's version must be below the newer's")
        }
        let newest = update.last!.version
        guard newest >= (placements.last?.version ?? 0), update[0].version >= olderVersion else {
            throw ErrorReply(.conflict, "shard \(shard) already serves map version \(placements.last?.version ?? 0); "
                                        + "refusing the older map \(newest)")
        }
        if update.count == 1, !update[0].shards.contains(shard.rawValue),
           !placements.contains(where: { $0.version == update[0].version }) {
            throw ErrorReply(.badRequest, "map \(update[0].version) does not hold shard \(shard); a shard leaves the map only "
                                          + "through a move that announced it")
        }
    }
}

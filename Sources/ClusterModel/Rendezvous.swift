/// Rendezvous (highest-random-weight) hashing of vector ids over shards: each id goes to the shard
/// with the highest `weight(id, shard)`. Adding a shard moves only the ids that now weigh most on
/// it (about 1/(n+1) of them), and removing one moves only its own ids.
public enum Rendezvous {
    /// SplitMix64's finaliser: a cheap, well-mixed 64-bit hash.
    @inlinable
    public static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public static func weight(id: UInt64, shard: ShardID) -> UInt64 {
        mix(id ^ mix(UInt64(shard.rawValue) &* 0xD6E8_FEB8_6659_FD93))
    }

    /// The owner of `id` among `shards` (ties, which need a 64-bit collision, go to the lower id).
    public static func owner(of id: UInt64, among shards: [ShardID]) -> ShardID {
        precondition(!shards.isEmpty, "callers check for an empty cluster")
        var best = shards[0]
        var bestWeight = weight(id: id, shard: best)
        for shard in shards.dropFirst() {
            let w = weight(id: id, shard: shard)
            if w > bestWeight || (w == bestWeight && shard < best) { best = shard; bestWeight = w }
        }
        return best
    }

    /// Row indices of `ids` grouped by owning shard.
    public static func partition(_ ids: [UInt64], among shards: [ShardID]) -> [ShardID: [Int]] {
        var groups: [ShardID: [Int]] = [:]
        for (index, id) in ids.enumerated() { groups[owner(of: id, among: shards), default: []].append(index) }
        return groups
    }
}

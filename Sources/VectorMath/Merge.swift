/// Merges sorted top-k lists (one per shard) into the global top-k, ordered by distance then id:
/// the order a single node's search keeps in its heap, which is what makes a cluster's answer
/// identical to the single node's. The coordinator merges every search with this.
///
/// Each input must be sorted best first; an id found in several inputs is kept once (its best).
/// - Complexity: O((k + r) · s) for s lists, where r counts the repeated ids skipped; the lists
///   are walked from their heads, never sorted again.
public func mergeTopK(_ lists: [[Neighbor]], k: Int) -> [Neighbor] {
    precondition(k > 0, "k must be positive")
    var positions = [Int](repeating: 0, count: lists.count)
    var merged: [Neighbor] = []
    merged.reserveCapacity(min(k, lists.reduce(0) { $0 + $1.count }))
    var seen = Set<VectorID>()
    while merged.count < k {
        var best = -1
        for list in lists.indices where positions[list] < lists[list].count {
            if best < 0 || lists[list][positions[list]] < lists[best][positions[best]] { best = list }
        }
        guard best >= 0 else { break }
        let neighbor = lists[best][positions[best]]
        positions[best] += 1
        if seen.insert(neighbor.id).inserted { merged.append(neighbor) }
    }
    return merged
}

/// Merges several sorted top-k lists (one per shard, or per list of an index) into the global
/// top-k, ordered by distance then id. A single node and a cluster both call this, which is what
/// keeps the cluster's answer identical to the single node's.
///
/// Each input must be sorted best first; duplicates of an id across inputs are kept once (the
/// best). - Complexity: O(total · log k).
public func mergeTopK(_ lists: [[Neighbor]], k: Int) -> [Neighbor] {
    precondition(k > 0, "k must be positive")
    var heap = TopK(k: k)
    var seen = Set<VectorID>()
    let all = lists.joined().sorted()
    for neighbor in all where !seen.contains(neighbor.id) {
        seen.insert(neighbor.id)
        heap.insert(neighbor)
        if heap.count == k { break }
    }
    return heap.sorted()
}

import VectorMath

/// A hierarchical navigable small-world graph over full vectors (Malkov & Yashunin, 2018;
/// `IndexHNSWFlat` in FAISS): where a graph beats inverted lists, e.g. high recall at low
/// latency on a collection that fits in memory with its full vectors.
///
/// Each vector is a node on layer 0 and, with probability falling by `1/M` per layer, on the
/// layers above; a search walks greedily down the sparse upper layers and then explores layer 0
/// with a candidate list of `efSearch`. Insertion is single-threaded and draws node levels from
/// a seeded generator, so one seed and one insertion order always build the same graph and give
/// the same answers. Deletion marks a node: it still routes searches but is never returned.
/// Memory: `4d` bytes of vector + `4 · 2M` bytes of layer-0 links + 8 bytes of id per vector.
public struct HNSWIndex: Sendable {
    public let dimension: Int
    public let metric: Metric
    /// Links per node on the upper layers (`M`); layer 0 keeps up to `2M`.
    public let neighborsPerNode: Int
    /// Candidate list while inserting: larger builds a better graph, slower.
    public let efConstruction: Int
    /// Where node levels are drawn from (kept in the file).
    public let seed: UInt64
    var vectors: [Float] = []
    public internal(set) var ids: [UInt64] = []
    var levels: [UInt8] = []
    /// Layer 0: `2M` slots per node, `layer0Counts[node]` of them in use.
    var layer0: [UInt32] = []
    var layer0Counts: [UInt16] = []
    /// Layers 1…level of each node: `upper[node][layer - 1]`.
    var upper: [[[UInt32]]] = []
    var entryPoint = -1
    var topLevel = 0
    var deleted: [Bool] = []
    var deletedCount = 0
    var nodeOfID: [UInt64: Int] = [:]
    var generator: SeededGenerator
    static let maxLevel = 16

    public init(dimension: Int, metric: Metric = .l2, neighborsPerNode: Int = 32, efConstruction: Int = 40,
                seed: UInt64 = 1234) throws(VectorIndexError) {
        guard dimension >= 1 else { throw .invalidParameter("dimension must be positive") }
        guard (2 ... 256).contains(neighborsPerNode) else { throw .invalidParameter("HNSW M = \(neighborsPerNode): use 2 … 256") }
        guard (1 ... 4096).contains(efConstruction) else {
            throw .invalidParameter("efConstruction = \(efConstruction): use 1 … 4096")
        }
        self.dimension = dimension
        self.metric = metric
        self.neighborsPerNode = neighborsPerNode
        self.efConstruction = efConstruction
        self.seed = seed
        generator = SeededGenerator(seed: seed)
    }

    /// Stored vectors, deleted ones included until they are compacted away.
    public var nodeCount: Int { ids.count }
    /// Vectors a search can return.
    public var count: Int { ids.count - deletedCount }
    var layer0Capacity: Int { 2 * neighborsPerNode }

    /// Bytes held: vectors, ids, levels, links of every layer and the id map.
    public var memoryBytes: Int {
        let upperLinks = upper.reduce(0) { $0 + $1.reduce(0) { $0 + $1.count } }
        return vectors.count * 4 + ids.count * (8 + 1 + 1 + 2 + 16) + layer0.count * 4 + upperLinks * 4
    }

    /// Adds vectors one by one (the graph's shape depends on the order; the same order and seed
    /// give the same graph). Ids must be new.
    public mutating func add(_ batch: Matrix, ids newIDs: [VectorID], progress: ProgressHandler? = nil) throws(VectorIndexError) {
        guard batch.dimension == dimension else { throw .dimensionMismatch(expected: dimension, got: batch.dimension) }
        guard batch.rowCount == newIDs.count else { throw .idCountMismatch(vectors: batch.rowCount, ids: newIDs.count) }
        if let row = batch.firstNonFiniteRow() { throw .nonFinite(what: "input", row: row) }
        var seen = Set<UInt64>()
        for id in newIDs where nodeOfID[id.rawValue] != nil || !seen.insert(id.rawValue).inserted { throw .duplicateID(id) }
        var visited = VisitedNodes(count: 0)
        for row in 0 ..< batch.rowCount {
            insert(Array(batch.values[row * dimension ..< (row + 1) * dimension]), id: newIDs[row].rawValue, visited: &visited)
            if let progress, row % 1000 == 999 || row == batch.rowCount - 1 { progress(row + 1, batch.rowCount) }
        }
    }

    /// Marks `ids` deleted (they keep routing searches); returns how many were stored.
    @discardableResult
    public mutating func remove(_ removed: [VectorID]) -> Int {
        var count = 0
        for id in removed {
            guard let node = nodeOfID.removeValue(forKey: id.rawValue), !deleted[node] else { continue }
            deleted[node] = true
            deletedCount += 1
            count += 1
        }
        return count
    }

    /// The `k` nearest stored vectors of each query, exploring layer 0 with `efSearch`
    /// candidates (at least `k`): larger is slower and finds more of the true neighbours.
    public func search(_ queries: Matrix, k: Int, efSearch: Int, threads: Int = 1) throws(VectorIndexError) -> [[Neighbor]] {
        guard queries.dimension == dimension else { throw .dimensionMismatch(expected: dimension, got: queries.dimension) }
        if let row = queries.firstNonFiniteRow() { throw .nonFinite(what: "query", row: row) }
        guard count > 0 else { throw .emptyIndex }
        guard k >= 1, k <= count else { throw .invalidK(k: k, available: count) }
        guard (1 ... 1 << 16).contains(efSearch) else { throw .invalidParameter("efSearch = \(efSearch): use 1 … 65536") }
        let chunk = 64, queryCount = queries.rowCount
        var results = [[Neighbor]](repeating: [], count: queryCount)
        results.withUnsafeMutableBufferPointer { output in
            let output = DisjointWrites(output)
            parallelFor((queryCount + chunk - 1) / chunk, threads: resolvedThreadCount(threads)) { chunkNumber in
                var visited = VisitedNodes(count: nodeCount)
                for row in chunkNumber * chunk ..< min(queryCount, (chunkNumber + 1) * chunk) {
                    let query = Array(queries.values[row * dimension ..< (row + 1) * dimension])
                    output.value[row] = searchOne(query, k: k, ef: max(efSearch, k), visited: &visited)
                }
            }
        }
        return results
    }

    func searchOne(_ query: [Float], k: Int, ef: Int, visited: inout VisitedNodes) -> [Neighbor] {
        var current = entryPoint
        var currentDistance = distance(query, node: current)
        for layer in stride(from: topLevel, to: 0, by: -1) {
            (current, currentDistance) = greedy(query, from: current, distance: currentDistance, layer: layer)
        }
        // Deleted nodes route but do not count: widen the list by how many there are, up to 2×.
        let widened = deletedCount == 0 ? ef : min(ef + deletedCount, 2 * ef)
        let found = searchLayer(query, entries: [(currentDistance, current)], ef: widened, layer: 0, visited: &visited)
        var best = TopK(k: k)
        for (distance, node) in found where !deleted[node] { best.insert(distance: distance, id: ids[node]) }
        return best.sorted()
    }

    // MARK: - Building the graph

    mutating func insert(_ vector: [Float], id: UInt64, visited: inout VisitedNodes) {
        let node = ids.count
        let level = randomLevel()
        vectors += vector
        ids.append(id)
        levels.append(UInt8(level))
        layer0 += [UInt32](repeating: 0, count: layer0Capacity)
        layer0Counts.append(0)
        upper.append([[UInt32]](repeating: [], count: level))
        deleted.append(false)
        nodeOfID[id] = node
        visited.grow(to: ids.count)
        guard entryPoint >= 0 else {
            entryPoint = node
            topLevel = level
            return
        }
        var current = entryPoint
        var currentDistance = distance(vector, node: current)
        for layer in stride(from: topLevel, to: level, by: -1) {
            (current, currentDistance) = greedy(vector, from: current, distance: currentDistance, layer: layer)
        }
        var entries = [(currentDistance, current)]
        for layer in stride(from: min(level, topLevel), through: 0, by: -1) {
            let candidates = searchLayer(vector, entries: entries, ef: efConstruction, layer: layer, visited: &visited)
            let capacity = layer == 0 ? layer0Capacity : neighborsPerNode
            let chosen = selectNeighbors(candidates.sorted { $0 < $1 }, capacity: capacity)
            setLinks(of: node, layer: layer, to: chosen.map(\.1))
            for (_, neighbor) in chosen { link(neighbor, to: node, layer: layer, capacity: capacity) }
            entries = candidates
        }
        if level > topLevel {
            entryPoint = node
            topLevel = level
        }
    }

    /// A node climbs one more layer with probability `1/M` (the distribution of
    /// `⌊−ln U / ln M⌋`): each layer holds about `1/M` of the nodes of the one below.
    mutating func randomLevel() -> Int {
        var level = 0
        while level < Self.maxLevel, generator.next() % UInt64(neighborsPerNode) == 0 { level += 1 }
        return level
    }

    /// Malkov's heuristic: take candidates nearest first, keeping one only when it is nearer the
    /// new node than to every one kept, so links spread in all directions instead of clustering.
    /// Fewer candidates than slots are all kept, as FAISS and hnswlib do: the heuristic only
    /// thins a full list (a new node's layer-0 list, `2M` slots, keeps all of an `efConstruction`
    /// below `2M`), and a denser layer 0 is what carries recall.
    func selectNeighbors(_ sorted: [(Float, Int)], capacity: Int) -> [(Float, Int)] {
        if sorted.count < capacity { return sorted }
        var kept: [(Float, Int)] = []
        for candidate in sorted {
            guard kept.count < capacity else { break }
            let diverse = kept.allSatisfy { distance(between: candidate.1, and: $0.1) > candidate.0 }
            if diverse { kept.append(candidate) }
        }
        return kept
    }

    /// Adds `node` to `neighbor`'s links; a full list is re-chosen by the heuristic.
    mutating func link(_ neighbor: Int, to node: Int, layer: Int, capacity: Int) {
        var current = links(of: neighbor, layer: layer)
        if current.count < capacity {
            current.append(UInt32(node))
            return setLinks(of: neighbor, layer: layer, to: current.map(Int.init))
        }
        let candidates = (current.map(Int.init) + [node]).map { (distance(between: neighbor, and: $0), $0) }.sorted { $0 < $1 }
        setLinks(of: neighbor, layer: layer, to: selectNeighbors(candidates, capacity: capacity).map(\.1))
    }

    /// Calls `body` with each link of `node` on `layer`, without copying the list.
    @inline(__always)
    func forEachLink(of node: Int, layer: Int, _ body: (Int) -> Void) {
        if layer == 0 {
            let start = node * layer0Capacity, end = start + Int(layer0Counts[node])
            layer0.withUnsafeBufferPointer { links in for slot in start ..< end { body(Int(links[slot])) } }
        } else {
            for link in upper[node][layer - 1] { body(Int(link)) }
        }
    }

    func links(of node: Int, layer: Int) -> [UInt32] {
        if layer == 0 {
            let start = node * layer0Capacity
            return Array(layer0[start ..< start + Int(layer0Counts[node])])
        }
        return upper[node][layer - 1]
    }

    mutating func setLinks(of node: Int, layer: Int, to nodes: [Int]) {
        if layer == 0 {
            let start = node * layer0Capacity
            for (slot, other) in nodes.prefix(layer0Capacity).enumerated() { layer0[start + slot] = UInt32(other) }
            layer0Counts[node] = UInt16(min(nodes.count, layer0Capacity))
        } else {
            upper[node][layer - 1] = nodes.map { UInt32($0) }
        }
    }

    // MARK: - Walking the graph

    /// Moves to a nearer neighbour on `layer` until none is nearer.
    func greedy(_ query: [Float], from start: Int, distance startDistance: Float, layer: Int) -> (Int, Float) {
        var current = start, best = startDistance, moved = true
        while moved {
            moved = false
            forEachLink(of: current, layer: layer) { neighbor in
                let candidate = distance(query, node: neighbor)
                if candidate < best || (candidate == best && neighbor < current) {
                    best = candidate
                    current = neighbor
                    moved = true
                }
            }
        }
        return (current, best)
    }

    /// The `ef` nearest nodes reachable on `layer` from `entries` (best-first expansion).
    func searchLayer(_ query: [Float], entries: [(Float, Int)], ef: Int, layer: Int,
                     visited: inout VisitedNodes) -> [(Float, Int)] {
        visited.startRound()
        var candidates = MinHeap()
        var results = TopK(k: ef)
        for (distance, node) in entries where visited.visit(node) {
            candidates.push(distance, node)
            results.insert(distance: distance, id: UInt64(node))
        }
        while let (distance, node) = candidates.pop() {
            if distance > results.worstDistance { break }
            forEachLink(of: node, layer: layer) { neighbor in
                guard visited.visit(neighbor) else { return }
                let candidate = self.distance(query, node: neighbor)
                if candidate < results.worstDistance || results.count < ef {
                    candidates.push(candidate, neighbor)
                    results.insert(distance: candidate, id: UInt64(neighbor))
                }
            }
        }
        return results.sorted().map { ($0.distance, Int($0.id.rawValue)) }
    }

    func distance(_ query: [Float], node: Int) -> Float {
        query.withUnsafeBufferPointer { q in
            vectors.withUnsafeBufferPointer { v in
                let row = v.baseAddress! + node * dimension
                return metric == .l2 ? squaredL2(q.baseAddress!, row, dimension) : -dotProduct(q.baseAddress!, row, dimension)
            }
        }
    }

    func distance(between a: Int, and b: Int) -> Float {
        vectors.withUnsafeBufferPointer { v in
            let first = v.baseAddress! + a * dimension, second = v.baseAddress! + b * dimension
            return metric == .l2 ? squaredL2(first, second, dimension) : -dotProduct(first, second, dimension)
        }
    }
}

/// Which nodes a walk has seen: a stamp per node, so starting a new walk costs nothing.
struct VisitedNodes {
    var stamps: [UInt32]
    var round: UInt32 = 0

    init(count: Int) { stamps = [UInt32](repeating: 0, count: count) }

    mutating func grow(to count: Int) {
        if stamps.count < count { stamps += [UInt32](repeating: 0, count: count - stamps.count) }
    }

    mutating func startRound() {
        round &+= 1
        if round == 0 {
            for index in stamps.indices { stamps[index] = 0 }
            round = 1
        }
    }

    /// True the first time `node` is seen in this round.
    mutating func visit(_ node: Int) -> Bool {
        guard stamps[node] != round else { return false }
        stamps[node] = round
        return true
    }
}

/// The candidates of a walk, nearest on top (ties: lower node first).
struct MinHeap {
    var items: [(Float, Int)] = []

    mutating func push(_ distance: Float, _ node: Int) {
        items.append((distance, node))
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child] < items[parent] else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> (Float, Int)? {
        guard !items.isEmpty else { return nil }
        let top = items[0]
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1, right = left + 1
                var smallest = parent
                if left < items.count, items[left] < items[smallest] { smallest = left }
                if right < items.count, items[right] < items[smallest] { smallest = right }
                guard smallest != parent else { break }
                items.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return top
    }
}

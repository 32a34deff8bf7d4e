import ShardStore
import VectorIndex
import VectorMath
import Wire

/// The in-memory shard: the codebook version and its entries split by `EntryPart`, one IVF-PQ
/// index a part (all sharing the codebooks), so a search reads exactly the parts its map
/// version owns without filtering inside the scan.
struct ShardIndex: Sendable {
    var version: UInt64
    private(set) var parts: [IVFPQIndex]
    private(set) var placement: ShardPlacement

    init(version: UInt64, template: IVFPQIndex, placement: ShardPlacement) {
        self.version = version
        self.placement = placement
        parts = Array(repeating: template.emptyCopy, count: EntryPart.allCases.count)
    }

    /// Dimension, lists, codebooks and configuration (every part shares them).
    var template: IVFPQIndex { parts[0] }
    var count: Int { parts.reduce(0) { $0 + $1.count } }
    func count(_ part: EntryPart) -> Int { parts[part.rawValue].count }
    /// Entries served to the map in force (the older one during a move).
    var servedCount: Int { count(.settled) + count(.leaving) }

    var counts: PlacementCounts {
        PlacementCounts(settled: UInt64(count(.settled)), leaving: UInt64(count(.leaving)), arriving: UInt64(count(.arriving)),
                        unowned: UInt64(count(.unowned)))
    }

    mutating func load(_ entries: [StoredEntry]) throws {
        let m = template.codeSize
        var ids: [VectorID] = [], lists: [Int32] = [], codes: [UInt8] = [], vectors: [Float] = []
        for entry in entries {
            guard entry.code.count == m, entry.list >= 0, Int(entry.list) < template.listCount else {
                throw StoreError.corrupt("entry \(entry.id) has a \(entry.code.count)-byte code in list \(entry.list)")
            }
            ids.append(VectorID(entry.id))
            lists.append(entry.list)
            codes.append(contentsOf: entry.code)
            if template.configuration.storesVectors {
                guard let vector = entry.vector else { throw StoreError.corrupt("entry \(entry.id) lacks its stored vector") }
                vectors.append(contentsOf: vector)
            }
        }
        try template.checkCodes(codes)
        let matrix = template.configuration.storesVectors ? try Matrix(dimension: template.dimension, values: vectors) : nil
        append(matrix, ids: ids, lists: lists, codes: codes)
        for index in parts.indices { parts[index].compact() }
    }

    /// Appends encoded entries, each to the part its id belongs to.
    mutating func append(_ vectors: Matrix?, ids: [VectorID], lists: [Int32], codes: [UInt8]) {
        let m = template.codeSize
        var rowsByPart = Array(repeating: [Int](), count: parts.count)
        for (row, id) in ids.enumerated() { rowsByPart[placement.part(of: id.rawValue).rawValue].append(row) }
        for (part, rows) in rowsByPart.enumerated() where !rows.isEmpty {
            var partCodes: [UInt8] = []
            partCodes.reserveCapacity(rows.count * m)
            for row in rows { partCodes.append(contentsOf: codes[row * m ..< (row + 1) * m]) }
            parts[part].append(vectors.map { $0.rows(at: rows) }, ids: rows.map { ids[$0] }, lists: rows.map { lists[$0] },
                               codes: partCodes)
        }
    }

    @discardableResult
    mutating func remove(_ ids: Set<VectorID>) -> Int {
        parts.indices.reduce(0) { removed, part in removed + parts[part].remove(ids) }
    }

    /// The ids held in `part`.
    func ids(in part: EntryPart) -> [UInt64] {
        parts[part.rawValue].lists.flatMap(\.ids)
    }

    /// Forgets these unowned entries (after the store deleted them).
    mutating func forgetUnowned(_ ids: Set<UInt64>) {
        let part = EntryPart.unowned.rawValue
        parts[part].remove(Set(ids.map { VectorID($0) }))
    }

    /// Adopts new placements and moves every entry to the part it now belongs to.
    mutating func setPlacement(_ newPlacement: ShardPlacement) {
        placement = newPlacement
        parts = IVFPQIndex.partition(parts, into: parts.count) { newPlacement.part(of: $0).rawValue }
    }

    /// Searches the parts that map `mapVersion` owns as one index (one coarse ranking, one heap).
    /// k is clamped to what those parts hold (the coordinator's merge fills the rest).
    /// `probes`: the coordinator's ranking of the centroids (nil: ranked here), cut by `probeRatio`.
    func search(_ queries: Matrix, k: Int, probeCount: Int, refine: Int, threads: Int, mapVersion: UInt64,
                probes: [[Probe]]? = nil, queriesApart: Bool = false, probeRatio: Float = 0) throws -> [[Neighbor]] {
        // Counting a part sums its lists: only as far as k (the sum of capped counts is at least k
        // exactly when the parts hold k entries, and exact below that).
        let served = try placement.servedParts(mapVersion: mapVersion).map { parts[$0.rawValue] }.map { ($0, $0.count(upTo: max(1, k))) }
        let available = served.reduce(0) { $0 + $1.1 }
        guard available > 0 else { return Array(repeating: [], count: queries.rowCount) }
        var parameters = SearchParameters(k: min(k, available), probeCount: probeCount, refineFactor: refine, threads: threads,
                                          queriesApart: queriesApart)
        parameters.probeRatio = probeRatio
        return try IVFPQIndex.search(queries, in: served.filter { $0.1 > 0 }.map(\.0), parameters: parameters, probes: probes)
    }

    /// Calls `body` with every held entry: its part, list number, list and position in it.
    func forEachEntry(_ body: (EntryPart, Int, InvertedList, Int) -> Void) {
        for part in EntryPart.allCases {
            for (number, list) in parts[part.rawValue].lists.enumerated() {
                for position in 0 ..< list.count { body(part, number, list, position) }
            }
        }
    }
}

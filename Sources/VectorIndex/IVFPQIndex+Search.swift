import CSIMDKernels
import Quantization
import VectorMath

extension IVFPQIndex {
    /// Searches a batch of queries; returns up to `k` neighbours per query, best first, ties by id.
    ///
    /// Fewer than `k` come back only when the probed lists hold fewer vectors.
    /// - Complexity per query: `2 · nlist · d` (ranking centroids) `+ 2 · 256 · d` (query tables)
    ///   `+ nprobe · (m · 256 + L · m)` where L is the mean list length; refine adds
    ///   `k · refineFactor · d`.
    public func search(_ queries: Matrix, parameters: SearchParameters) throws(VectorIndexError) -> [[Neighbor]] {
        try IVFPQIndex.search(queries, in: [self], parameters: parameters)
    }

    /// Searches the union of `parts` as one index holding all their entries would: indexes cut
    /// from one trained index (`emptyCopy`, `partition`), so they share the coarse centroids and
    /// codebooks. Each query ranks the centroids and builds its tables once; every part's probed
    /// lists feed one heap (and one refine), so the answer does not depend on how entries are split.
    ///
    /// `probes`, when given, are each query's lists and terms as `rankCentroids` returns them
    /// (ranked elsewhere, e.g. once for every shard): the centroids are not ranked again.
    public static func search(_ queries: Matrix, in parts: [IVFPQIndex], parameters: SearchParameters,
                              probes given: [[Probe]]? = nil) throws(VectorIndexError) -> [[Neighbor]] {
        guard let index = parts.first else { throw .emptyIndex }
        guard parts.count <= maxParts, index.listCount < 1 << 24,
              parts.allSatisfy({ $0.listCount == index.listCount && $0.codeSize == index.codeSize && $0.dimension == index.dimension })
        else { throw .invalidParameter("a search reads at most \(maxParts) parts of one trained index, with fewer than 2^24 lists") }
        // Counted only as far as k: at least k exactly when the parts hold k, exact below that.
        let enough = parameters.k >= 1 ? parameters.k : .max
        try index.validate(queries, parameters, available: parts.reduce(0) { $0 + $1.count(upTo: enough) })
        if let given {
            guard given.count == queries.rowCount,
                  given.allSatisfy({
                      $0.allSatisfy { (0 ..< index.listCount).contains($0.list.rawValue) && $0.centroidDistance.isFinite }
                  }),
                  given.allSatisfy({ $0.count <= index.listCount })
            else {
                throw .invalidParameter("probes must name lists 0 to \(index.listCount - 1) with finite terms, at most "
                    + "\(index.listCount) for each of the \(queries.rowCount) queries")
            }
        }
        let queryCount = queries.rowCount
        let rankingRows = parameters.queriesApart ? 1 : 32
        // 4-bit batches are scanned list by list, many queries a chunk (see FastScanByList).
        let listRows = index.configuration.usesFastScan && !parameters.queriesApart
            ? listMajorChunkRows(candidates: index.candidateCount(parameters)) : nil
        let chunk = listRows ?? rankingRows
        let chunkCount = (queryCount + chunk - 1) / chunk
        var results = [[Neighbor]](repeating: [], count: queryCount)
        results.withUnsafeMutableBufferPointer { output in
            let output = DisjointWrites(output)
            parallelFor(chunkCount, threads: resolvedThreadCount(parameters.threads)) { chunkNumber in
                let first = chunkNumber * chunk
                let rows = min(chunk, queryCount - first)
                var scratch = SearchScratch(index: index, rows: rows, rankingRows: min(rows, rankingRows))
                // Centroids are ranked and tables built 32 rows at a time, as `rankCentroids`
                // ranks them, so that given probes answer bit for bit.
                var probes: [[Probe]] = []
                probes.reserveCapacity(rows)
                for offset in stride(from: 0, to: rows, by: rankingRows) {
                    let start = first + offset, count = min(rankingRows, rows - offset)
                    let ranked = given.map { Array($0[start ..< start + count]) }
                        ?? index.rankCentroids(queries, first: start, rows: count, probeCount: parameters.probeCount, scratch: &scratch)
                    probes += parameters.probeRatio > 0 ? ranked.map { $0.cut(atRatio: parameters.probeRatio) } : ranked
                    index.fillQueryTables(queries, first: start, rows: count, tableRow: offset, scratch: &scratch)
                }
                guard listRows != nil else {
                    for row in 0 ..< rows {
                        output.value[first + row] = index.searchOne(
                            queries, row: first + row, tableRow: row, probes: probes[row], parts: parts,
                            parameters: parameters, scratch: &scratch)
                    }
                    return
                }
                let pools = CandidatePools(rows: rows, k: index.candidateCount(parameters))
                scratch.queryTables.withUnsafeBufferPointer { tables in
                    index.scanFastScanByList(probes: probes, parts: parts, kernel: parameters.fastScanKernel ?? FastScan.Kernel.selected,
                                             queryTables: tables.baseAddress!, pools: pools)
                }
                for row in 0 ..< rows {
                    output.value[first + row] = index.finish(pools.pool(row), queries: queries, row: first + row,
                                                             parameters: parameters, parts: parts)
                }
            }
        }
        return results
    }

    /// Candidates the ADC scan keeps: `k`, or `k · refineFactor` for refine to re-rank.
    func candidateCount(_ parameters: SearchParameters) -> Int {
        parameters.refineFactor > 1 ? parameters.k * parameters.refineFactor : parameters.k
    }

    /// Each query's `probeCount` nearest lists with their query-to-centroid terms, ranked exactly
    /// as `search` ranks them (in the same chunks of 32 queries), so that a search given them
    /// answers bit for bit as one that ranks itself.
    public func rankCentroids(_ queries: Matrix, probeCount: Int, threads: Int = 1,
                              queriesApart: Bool = false) throws(VectorIndexError) -> [[Probe]] {
        guard queries.dimension == dimension else { throw .dimensionMismatch(expected: dimension, got: queries.dimension) }
        guard probeCount >= 1, probeCount <= listCount else { throw .invalidProbeCount(nprobe: probeCount, nlist: listCount) }
        let chunk = queriesApart ? 1 : 32, queryCount = queries.rowCount
        var probes = [[Probe]](repeating: [], count: queryCount)
        probes.withUnsafeMutableBufferPointer { output in
            let output = DisjointWrites(output)
            parallelFor((queryCount + chunk - 1) / chunk, threads: resolvedThreadCount(threads)) { chunkNumber in
                let first = chunkNumber * chunk, rows = min(chunk, queryCount - first)
                var scratch = SearchScratch(index: self, rows: rows)
                let ranked = rankCentroids(queries, first: first, rows: rows, probeCount: probeCount, scratch: &scratch)
                for (row, probes) in ranked.enumerated() { output.value[first + row] = probes }
            }
        }
        return probes
    }

    /// ADC candidates a query may keep (`k · refineFactor`).
    public static let maxCandidates = 1 << 22

    /// Parts one search reads at most (the part travels in a candidate's top 8 payload bits).
    public static let maxParts = 256

    func validate(_ queries: Matrix, _ parameters: SearchParameters, available: Int? = nil) throws(VectorIndexError) {
        guard queries.dimension == dimension else { throw .dimensionMismatch(expected: dimension, got: queries.dimension) }
        if let row = queries.firstNonFiniteRow() { throw .nonFinite(what: "query", row: row) }
        let available = available ?? count(upTo: parameters.k >= 1 ? parameters.k : .max)
        guard available > 0 else { throw .emptyIndex }
        guard parameters.k >= 1, parameters.k <= available else { throw .invalidK(k: parameters.k, available: available) }
        guard parameters.probeCount >= 1, parameters.probeCount <= listCount else {
            throw .invalidProbeCount(nprobe: parameters.probeCount, nlist: listCount)
        }
        try SearchParameters.checkProbeRatio(parameters.probeRatio, metric: metric)
        guard parameters.refineFactor >= 0 else {
            throw .invalidParameter("refine factor \(parameters.refineFactor) must be 0 (off) or at least 1")
        }
        let (candidates, overflow) = parameters.k.multipliedReportingOverflow(by: max(1, parameters.refineFactor))
        guard !overflow, candidates <= IVFPQIndex.maxCandidates else {
            throw .invalidParameter("k × refine factor must be at most \(IVFPQIndex.maxCandidates)")
        }
        if parameters.refineFactor > 1, !configuration.canRefine { throw .refineNeedsVectors }
    }

    /// The `nprobe` nearest lists of each query with the query-to-centroid term
    /// (`‖q − c‖²` for L2, `−⟨q, c⟩` for inner product), nearest first.
    func rankCentroids(_ queries: Matrix, first: Int, rows: Int, probeCount: Int,
                       scratch: inout SearchScratch) -> [[Probe]] {
        if let graph = coarseGraphIndex {
            return rankThroughGraph(graph, queries, first: first, rows: rows, probeCount: probeCount)
        }
        let dimension = self.dimension, nlist = listCount
        var probes: [[Probe]] = []
        probes.reserveCapacity(rows)
        queries.withUnsafeBufferPointer { queryBuffer in
            coarseCentroids.withUnsafeBufferPointer { centroidBuffer in
                scratch.coarseProducts.withUnsafeMutableBufferPointer { products in
                    let queryBase = queryBuffer.baseAddress! + first * dimension
                    if rows == 1 {
                        BLAS.multiplyRow(queryBase, centroidBuffer.baseAddress!, rows: nlist, leadingB: dimension, depth: dimension,
                                         into: products.baseAddress!)
                    } else {
                        BLAS.multiplyTransposed(queryBase, rows: rows, centroidBuffer.baseAddress!, rows: nlist,
                                                depth: dimension, into: products.baseAddress!)
                    }
                    for row in 0 ..< rows {
                        let query = queryBase + row * dimension
                        let queryNorm = metric == .l2 ? dotProduct(query, query, dimension) : 0
                        var heap = CandidatePool(k: probeCount)
                        scratch.centroidDistances.withUnsafeMutableBufferPointer { distances in
                            centroidNorms.withUnsafeBufferPointer { norms in
                                coarseDistances(products.baseAddress! + row * nlist, norms: norms.baseAddress!, queryNorm: queryNorm,
                                                l2: metric == .l2, count: nlist, into: distances.baseAddress!)
                            }
                            var worst = heap.worstDistance
                            for list in 0 ..< nlist where distances[list] <= worst {
                                heap.insert(distance: distances[list], id: UInt64(list))
                                worst = heap.worstDistance
                            }
                        }
                        // The heap's id slot carries the list number only inside this loop.
                        probes.append(heap.sorted().map { Probe(list: ListNumber(Int($0.id.rawValue)), centroidDistance: $0.distance) })
                    }
                }
            }
        }
        return probes
    }

    /// The `nprobe` lists whose centroids the graph finds nearest, searched with
    /// `efSearch = max(2 · nprobe, 64)`: approximate, as every graph search is, and deterministic.
    func rankThroughGraph(_ graph: HNSWIndex, _ queries: Matrix, first: Int, rows: Int, probeCount: Int) -> [[Probe]] {
        var visited = VisitedNodes(count: graph.nodeCount)
        let ef = max(2 * probeCount, 64)
        return (0 ..< rows).map { row in
            graph.searchOne(Array(queries.row(first + row)), k: probeCount, ef: ef, visited: &visited).map {
                Probe(list: ListNumber(Int($0.id.rawValue)), centroidDistance: $0.distance)
            }
        }
    }

    /// Per query and sub-space: `−2⟨q_sub, r⟩` (L2) or `−⟨q_sub, r⟩` (inner product) for the 256
    /// sub-centroids, one strided `sgemm` per sub-space for the whole chunk (`sgemv` for one query:
    /// `BLAS.multiplyRow`).
    /// Writes the tables of query rows `first ..< first + rows` from table row `tableRow` on.
    func fillQueryTables(_ queries: Matrix, first: Int, rows: Int, tableRow: Int = 0, scratch: inout SearchScratch) {
        // Under OPQ the tables score rotated residuals: the queries are rotated to match.
        if let rotation {
            return fillTables(OPQ.rotate(queries.slice(first ..< first + rows), by: rotation), first: 0, rows: rows,
                              tableRow: tableRow, scratch: &scratch)
        }
        fillTables(queries, first: first, rows: rows, tableRow: tableRow, scratch: &scratch)
    }

    private func fillTables(_ queries: Matrix, first: Int, rows: Int, tableRow: Int, scratch: inout SearchScratch) {
        if configuration.usesFastScan {
            return fillFastScanQueryTables(queries, first: first, rows: rows, tableRow: tableRow, scratch: &scratch)
        }
        let m = codeSize, dsub = quantizer.subDimension, ksub = quantizer.centroidsPerSubspace
        let dimension = self.dimension
        let alpha: Float = metric == .l2 ? -2 : -1
        queries.withUnsafeBufferPointer { queryBuffer in
            quantizer.centroids.withUnsafeBufferPointer { codebooks in
                scratch.queryTables.withUnsafeMutableBufferPointer { tables in
                    for sub in 0 ..< m {
                        let query = queryBuffer.baseAddress! + first * dimension + sub * dsub
                        let codebook = codebooks.baseAddress! + sub * ksub * dsub
                        let table = tables.baseAddress! + (tableRow * m + sub) * ksub
                        if rows == 1 {
                            BLAS.multiplyRow(query, codebook, rows: ksub, leadingB: dsub, depth: dsub, into: table, alpha: alpha)
                        } else {
                            BLAS.multiplyTransposed(query, rows: rows, leadingA: dimension, codebook, rows: ksub, leadingB: dsub,
                                                    depth: dsub, into: table, leadingC: m * ksub, alpha: alpha)
                        }
                    }
                }
            }
        }
    }

    func searchOne(_ queries: Matrix, row: Int, tableRow: Int, probes: [Probe], parts: [IVFPQIndex],
                   parameters: SearchParameters, scratch: inout SearchScratch) -> [Neighbor] {
        var heap = CandidatePool(k: candidateCount(parameters))
        let m = codeSize
        if configuration.usesFastScan {
            let kernel = parameters.fastScanKernel ?? FastScan.Kernel.selected
            forEachProbedListQuantized(tableRow: tableRow, probes: probes, parts: parts, scratch: &scratch) { list, place, table, base in
                fastScanList(list, base: base, place: place, kernel: kernel, quantized: table, heap: &heap)
            }
        } else {
            forEachProbedList(tableRow: tableRow, probes: probes, parts: parts, scratch: &scratch) { list, place, table, base in
                list.ids.withUnsafeBufferPointer { ids in
                    list.codes.withUnsafeBufferPointer { codes in
                        scanCodes(codes.baseAddress!, ids: ids.baseAddress!, count: list.count, m: m,
                                  table: table, base: base, place: place, heap: &heap)
                    }
                }
            }
        }
        return finish(heap, queries: queries, row: row, parameters: parameters, parts: parts)
    }

    /// A query's answer from its ADC candidates: re-ranked when refining, else as they are.
    func finish(_ candidates: CandidatePool, queries: Matrix, row: Int, parameters: SearchParameters,
                parts: [IVFPQIndex]) -> [Neighbor] {
        guard parameters.refineFactor > 1 else { return candidates.sorted() }
        return refine(candidates, queries: queries, row: row, k: parameters.k, parts: parts)
    }

    /// Calls `body(list, place, table, base)` for each non-empty probed list of every part, with
    /// the list's ADC table (built once for all parts) and the query-to-centroid term, in probe
    /// order. `place` is the part number (top 8 bits) and the list number (next 24), shifted
    /// into a candidate's payload above its position.
    @inline(__always)
    func forEachProbedList(tableRow: Int, probes: [Probe], parts: [IVFPQIndex], scratch: inout SearchScratch,
                           _ body: (InvertedList, UInt64, UnsafePointer<Float>, Float) -> Void) {
        let tableSize = codeSize * quantizer.centroidsPerSubspace
        scratch.queryTables.withUnsafeBufferPointer { queryTables in
            scratch.listTable.withUnsafeMutableBufferPointer { listTable in
                precomputedTerms.withUnsafeBufferPointer { terms in
                    let queryTable = queryTables.baseAddress! + tableRow * tableSize
                    for probe in probes {
                        let listNumber = probe.list.rawValue
                        var table: UnsafePointer<Float>?
                        for (partNumber, part) in parts.enumerated() {
                            let list = part.lists[listNumber]
                            if list.count == 0 { continue }
                            let listTable = table
                                ?? probeTable(listNumber: listNumber, queryTable: queryTable, terms: terms, into: listTable)
                            table = listTable
                            body(list, UInt64(partNumber) << 56 | UInt64(listNumber) << 32, listTable, probe.centroidDistance)
                        }
                    }
                }
            }
        }
    }

    /// The ADC table of one probed list: for L2 the query's table plus the list's precomputed
    /// terms (written into `scratch`), for inner product the query's table itself.
    @inline(__always)
    func probeTable(listNumber: Int, queryTable: UnsafePointer<Float>, terms: UnsafeBufferPointer<Float>,
                    into scratch: UnsafeMutableBufferPointer<Float>) -> UnsafePointer<Float> {
        guard metric == .l2 else { return queryTable }
        let tableSize = codeSize * quantizer.centroidsPerSubspace
        let precomputed = terms.baseAddress! + listNumber * tableSize
        for i in 0 ..< tableSize { scratch[i] = precomputed[i] + queryTable[i] }
        return UnsafePointer(scratch.baseAddress!)
    }

    /// Candidates refine fetches ahead of the one it scores: the vectors lie scattered over
    /// memory, and a miss takes several distances' time, so several are kept in flight.
    static let refinePrefetchDistance = 8

    /// Re-scores ADC candidates with exact distances on the stored vectors (or 8-bit codes),
    /// prefetching `refinePrefetchDistance` candidates ahead.
    func refine(_ candidates: CandidatePool, queries: Matrix, row: Int, k: Int, parts: [IVFPQIndex]) -> [Neighbor] {
        var final = TopK(k: k)
        let dimension = self.dimension
        let ordered = candidates.sortedWithPayloads()
        @inline(__always) func withVector<R>(_ payload: UInt64, _ body: (UnsafePointer<Float>) -> R) -> R {
            parts[Int(payload >> 56)].lists[Int(payload >> 32 & 0xFF_FFFF)].vectors.withUnsafeBufferPointer { vectors in
                body(vectors.baseAddress! + Int(payload & 0xFFFF_FFFF) * dimension)
            }
        }
        @inline(__always) func withScalarCode<R>(_ payload: UInt64, _ body: (UnsafePointer<UInt8>) -> R) -> R {
            parts[Int(payload >> 56)].lists[Int(payload >> 32 & 0xFF_FFFF)].scalarCodes.withUnsafeBufferPointer { codes in
                body(codes.baseAddress! + Int(payload & 0xFFFF_FFFF) * dimension)
            }
        }
        queries.withUnsafeBufferPointer { queryBuffer in
            let query = queryBuffer.baseAddress! + row * dimension
            if let scalar = scalarQuantizer {
                let kernel = ScalarCodeDistance(metric: metric, wide: wideKernelsEnabled)
                scalar.minimum.withUnsafeBufferPointer { minimum in
                    scalar.step.withUnsafeBufferPointer { step in
                        for ahead in ordered.prefix(IVFPQIndex.refinePrefetchDistance) {
                            withScalarCode(ahead.payload) { sightline_prefetch($0, dimension) }
                        }
                        for (position, (neighbor, payload)) in ordered.enumerated() {
                            if position + IVFPQIndex.refinePrefetchDistance < ordered.count {
                                withScalarCode(ordered[position + IVFPQIndex.refinePrefetchDistance].payload) {
                                    sightline_prefetch($0, dimension)
                                }
                            }
                            let distance = withScalarCode(payload) {
                                kernel(query, $0, minimum.baseAddress!, step.baseAddress!, dimension)
                            }
                            final.insert(distance: distance, id: neighbor.id.rawValue)
                        }
                    }
                }
                return
            }
            for ahead in ordered.prefix(IVFPQIndex.refinePrefetchDistance) {
                withVector(ahead.payload) { sightline_prefetch($0, dimension * 4) }
            }
            for (position, (neighbor, payload)) in ordered.enumerated() {
                if position + IVFPQIndex.refinePrefetchDistance < ordered.count {
                    withVector(ordered[position + IVFPQIndex.refinePrefetchDistance].payload) { sightline_prefetch($0, dimension * 4) }
                }
                let exact = withVector(payload) { metric.distance(query, $0, dimension) }
                final.insert(distance: exact, id: neighbor.id.rawValue)
            }
        }
        return final.sorted()
    }
}

/// Query-to-centroid terms for one query: `max(0, ‖q‖² + ‖c‖² − 2⟨q, c⟩)` for L2, `−⟨q, c⟩` for
/// inner product, eight lanes at a time (the same arithmetic, in the same order, as one at a time).
@inline(__always)
func coarseDistances(_ products: UnsafePointer<Float>, norms: UnsafePointer<Float>, queryNorm: Float, l2: Bool,
                     count: Int, into output: UnsafeMutablePointer<Float>) {
    var index = 0
    if l2 {
        let q = SIMD8<Float>(repeating: queryNorm), zero = SIMD8<Float>(repeating: 0)
        while index + 8 <= count {
            let p = UnsafeRawPointer(products + index).loadUnaligned(as: SIMD8<Float>.self)
            let n = UnsafeRawPointer(norms + index).loadUnaligned(as: SIMD8<Float>.self)
            let d = (q + n) - 2 * p
            UnsafeMutableRawPointer(output + index).storeBytes(of: d.replacing(with: zero, where: d .< zero), as: SIMD8<Float>.self)
            index += 8
        }
        while index < count {
            output[index] = max(0, queryNorm + norms[index] - 2 * products[index])
            index += 1
        }
    } else {
        while index < count {
            output[index] = -products[index]
            index += 1
        }
    }
}

/// The ADC scan: `base + Σ_sub table[sub][code[sub]]` for each code, offered to the heap.
/// The place (part and list) and position travel as the payload so refine can find the full vector.
@inline(__always)
func scanCodes(_ codes: UnsafePointer<UInt8>, ids: UnsafePointer<UInt64>, count: Int, m: Int,
               table: UnsafePointer<Float>, base: Float, place: UInt64, heap: inout CandidatePool) {
    let groups = m / 4, rest = m % 4
    var code = codes
    // The entry bar lives in a register and is refreshed only after an insertion.
    var worst = heap.worstDistance
    for position in 0 ..< count {
        var sum: Float = 0
        var t = table
        var c = code
        for _ in 0 ..< groups {
            let a = t[Int(c[0])] + t[256 &+ Int(c[1])]
            let b = t[512 &+ Int(c[2])] + t[768 &+ Int(c[3])]
            sum += a + b
            t += 1024
            c += 4
        }
        for _ in 0 ..< rest {
            sum += t[Int(c[0])]
            t += 256
            c += 1
        }
        let distance = base + sum
        if distance <= worst {
            heap.insert(distance: distance, id: ids[position], payload: place | UInt64(position))
            worst = heap.worstDistance
        }
        code += m
    }
}

/// Buffers one search chunk reuses across its queries. Left uninitialised: every product and
/// table is fully written (BLAS with beta = 0) before it is read.
struct SearchScratch {
    var coarseProducts: [Float]
    var queryTables: [Float]
    var listTable: [Float]
    var centroidDistances: [Float]
    /// The fast scan's 8-bit table, kept between lists (4-bit indexes).
    var quantizedTable: FastScan.QuantizedTable?

    /// Tables for `rows` queries; centroid products for `rankingRows` (ranked that many at a time).
    init(index: IVFPQIndex, rows: Int, rankingRows: Int? = nil) {
        let tableSize = index.codeSize * index.quantizer.centroidsPerSubspace
        coarseProducts = SearchScratch.uninitialized((rankingRows ?? rows) * index.listCount)
        queryTables = SearchScratch.uninitialized(rows * tableSize)
        listTable = SearchScratch.uninitialized(tableSize)
        centroidDistances = SearchScratch.uninitialized(index.listCount)
    }

    static func uninitialized(_ count: Int) -> [Float] {
        [Float](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
    }
}


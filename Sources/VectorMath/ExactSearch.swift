import Synchronization

/// Progress of a long job: `(done, total)`. May be called from several threads.
public typealias ProgressHandler = @Sendable (_ done: Int, _ total: Int) -> Void

/// Exact (brute-force) k-nearest-neighbour search, batched through BLAS.
///
/// Distances come from the norms trick `‖q‖² + ‖x‖² − 2⟨q, x⟩` in blocks of queries × base rows
/// (one `sgemm` per block), which selects a few more than `k` candidates; the kept candidates are
/// then re-scored with the direct kernel, so the returned distances are exactly those of
/// `Metric.distance` and equal ties rank by id. This is the ground truth and the reference that
/// IVF-PQ is tested against.
/// - Complexity: `2 · nq · n · d` flops; memory `queryBlock × baseBlock × 4` bytes per thread.
public func exactSearch(
    queries: Matrix,
    base: Matrix,
    ids: [UInt64]? = nil,
    k: Int,
    metric: Metric,
    threads: Int = 1,
    progress: ProgressHandler? = nil
) throws(VectorMathError) -> [[Neighbor]] {
    guard queries.dimension == base.dimension else {
        throw .dimensionMismatch(expected: base.dimension, got: queries.dimension)
    }
    guard base.rowCount > 0 else { throw .empty("the base set") }
    guard k >= 1, k <= base.rowCount else { throw .invalidK(k: k, available: base.rowCount) }
    if let ids, ids.count != base.rowCount {
        throw .dimensionMismatch(expected: base.rowCount, got: ids.count)
    }
    let dimension = base.dimension
    let baseCount = base.rowCount
    let queryCount = queries.rowCount
    let candidateCount = min(baseCount, max(2 * k, k + 16))
    let baseNorms = metric == .l2 ? squaredNorms(base) : []
    let queryNorms = metric == .l2 ? squaredNorms(queries) : []
    let queryBlock = 64
    let baseBlock = 4096
    let blockCount = (queryCount + queryBlock - 1) / queryBlock

    var results = [[Neighbor]](repeating: [], count: queryCount)
    let done = Atomic<Int>(0)
    results.withUnsafeMutableBufferPointer { output in
        let output = DisjointWrites(output)
        queries.withUnsafeBufferPointer { queryBuffer in
            base.withUnsafeBufferPointer { baseBuffer in
                let queryBase = queryBuffer.baseAddress!, basePointer = baseBuffer.baseAddress!
                parallelFor(blockCount, threads: threads) { block in
                    let first = block * queryBlock
                    let rows = min(queryBlock, queryCount - first)
                    var heaps = (0 ..< rows).map { _ in TopK(k: candidateCount) }
                    var products = [Float](repeating: 0, count: rows * baseBlock)
                    products.withUnsafeMutableBufferPointer { productBuffer in
                        let product = productBuffer.baseAddress!
                        var start = 0
                        while start < baseCount {
                            let width = min(baseBlock, baseCount - start)
                            BLAS.multiplyTransposed(
                                queryBase + first * dimension, rows: rows,
                                basePointer + start * dimension, rows: width,
                                depth: dimension, into: product)
                            baseNorms.withUnsafeBufferPointer { norms in
                                for row in 0 ..< rows {
                                    offerBlock(line: product + row * width, width: width, start: start,
                                               queryNorm: metric == .l2 ? queryNorms[first + row] : 0,
                                               baseNorms: metric == .l2 ? norms.baseAddress! + start : nil, heap: &heaps[row])
                                }
                            }
                            start += width
                        }
                    }
                    for row in 0 ..< rows {
                        let query = queryBase + (first + row) * dimension
                        var final = TopK(k: k)
                        for candidate in heaps[row].sorted() {
                            let position = Int(candidate.id.rawValue)
                            let exact = metric.distance(query, basePointer + position * dimension, dimension)
                            final.insert(distance: exact, id: ids?[position] ?? UInt64(position))
                        }
                        output.value[first + row] = final.sorted()
                    }
                    let finished = done.wrappingAdd(rows, ordering: .relaxed).newValue
                    progress?(finished, queryCount)
                }
            }
        }
    }
    return results
}

/// Offers one row of a product block to a heap: distances `‖q‖² + ‖x‖² − 2⟨q, x⟩` (L2) or
/// `−⟨q, x⟩`, eight at a time; only lanes under the heap's bar go through the heap.
@inline(__always)
func offerBlock(line: UnsafePointer<Float>, width: Int, start: Int, queryNorm: Float,
                baseNorms: UnsafePointer<Float>?, heap: inout TopK) {
    var worst = heap.worstDistance
    var column = 0
    let q = SIMD8<Float>(repeating: queryNorm)
    while column + 8 <= width {
        let products = UnsafeRawPointer(line + column).loadUnaligned(as: SIMD8<Float>.self)
        let distances: SIMD8<Float>
        if let baseNorms {
            distances = (q + UnsafeRawPointer(baseNorms + column).loadUnaligned(as: SIMD8<Float>.self)) - 2 * products
        } else {
            distances = -products
        }
        if any(distances .<= SIMD8<Float>(repeating: worst)) {
            for lane in 0 ..< 8 where distances[lane] <= worst {
                heap.insert(distance: distances[lane], id: UInt64(start + column + lane))
                worst = heap.worstDistance
            }
        }
        column += 8
    }
    while column < width {
        let distance = baseNorms.map { queryNorm + $0[column] - 2 * line[column] } ?? -line[column]
        if distance <= worst {
            heap.insert(distance: distance, id: UInt64(start + column))
            worst = heap.worstDistance
        }
        column += 1
    }
}

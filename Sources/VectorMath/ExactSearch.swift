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
        let output = UncheckedSendableBox(output)
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
                            for row in 0 ..< rows {
                                let line = product + row * width
                                for column in 0 ..< width {
                                    let distance = metric == .l2
                                        ? queryNorms[first + row] + baseNorms[start + column] - 2 * line[column]
                                        : -line[column]
                                    if distance <= heaps[row].worstDistance {
                                        heaps[row].insert(distance: distance, id: UInt64(start + column))
                                    }
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

/// A pair of rows `first < second` of one matrix and their squared L2 distance.
public struct RowPair: Hashable, Sendable {
    public var first: Int, second: Int
    public var distance: Float
    public init(first: Int, second: Int, distance: Float) {
        self.first = first
        self.second = second
        self.distance = distance
    }
}

/// Every pair of rows within squared L2 distance `radius`, by brute force: the products of each
/// block of 256 rows with the rows after it through sgemm (`‖a‖² + ‖b‖² − 2⟨a, b⟩` screens with a
/// small slack), each survivor re-scored with the direct kernel so the cut is exact. The baseline
/// that `sightline dedup` measures the index against. Pairs come sorted by (first, second).
/// - Complexity: `n² · d` flops (half of the full product).
public func exactPairsWithin(_ vectors: Matrix, radius: Float, threads: Int = 1, progress: ((Int, Int) -> Void)? = nil) -> [RowPair] {
    let n = vectors.rowCount, d = vectors.dimension, block = 256
    let norms = squaredNorms(vectors)
    let blocks = (n + block - 1) / block
    // The sgemm form loses a few ulps of the norms; screen generously, decide exactly.
    let screen = radius + 1e-4 * (1 + 2 * (norms.max() ?? 0))
    var perBlock = [[RowPair]](repeating: [], count: blocks)
    perBlock.withUnsafeMutableBufferPointer { output in
        let output = DisjointWrites(output)
        vectors.withUnsafeBufferPointer { x in
            let x = DisjointWrites(x)
            parallelFor(blocks, threads: threads) { b in
                let first = b * block, rows = min(block, n - first), columns = n - first
                var products = [Float](repeating: 0, count: rows * columns)
                let base = x.value.baseAddress!
                products.withUnsafeMutableBufferPointer { p in
                    BLAS.multiplyTransposed(base + first * d, rows: rows, base + first * d, rows: columns, depth: d, into: p.baseAddress!)
                }
                var found: [RowPair] = []
                for row in 0 ..< rows {
                    let i = first + row
                    for column in (row + 1) ..< columns {
                        let j = first + column
                        guard norms[i] + norms[j] - 2 * products[row * columns + column] <= screen else { continue }
                        let exact = squaredL2(base + i * d, base + j * d, d)
                        if exact <= radius { found.append(RowPair(first: i, second: j, distance: exact)) }
                    }
                }
                output.value[b] = found
                progress?(b + 1, blocks)
            }
        }
    }
    return perBlock.flatMap { $0 }
}

import VectorMath

/// Label-based retrieval quality of a set of descriptors, each querying all the others.
public struct RetrievalQuality: Sendable {
    /// Recall@R for R = 1, 2, 4, 8.
    public var recall: [Int: Double]
    /// Mean average precision over the full ranking of the other items.
    public var meanAveragePrecision: Double
}

/// Every item queries the other n − 1 (exact squared-L2 ranking, ties by index): Recall@1/2/4/8
/// and mAP. Distances come from BLAS in blocks of 256 queries.
/// - Complexity: `2·n²·d` flops and an `n log n` sort per query.
public func evaluateRetrieval(_ descriptors: Matrix, labels: [Int32], threads: Int = 0,
                              progress: ProgressHandler? = nil) -> RetrievalQuality {
    let n = descriptors.rowCount, d = descriptors.dimension
    let norms = squaredNorms(descriptors)
    var classSizes: [Int32: Int] = [:]
    for label in labels { classSizes[label, default: 0] += 1 }
    let block = 256
    let blocks = (n + block - 1) / block
    var hits = [[Int]](repeating: [0, 0, 0, 0], count: blocks)
    var precisionSums = [Double](repeating: 0, count: blocks)
    hits.withUnsafeMutableBufferPointer { hitBuffer in
        precisionSums.withUnsafeMutableBufferPointer { apBuffer in
            let hitOut = DisjointWrites(hitBuffer), apOut = DisjointWrites(apBuffer)
            descriptors.withUnsafeBufferPointer { x in
                parallelFor(blocks, threads: resolvedThreadCount(threads)) { b in
                    let first = b * block, rows = min(block, n - first)
                    var products = [Float](repeating: 0, count: rows * n)
                    products.withUnsafeMutableBufferPointer { p in
                        BLAS.multiplyTransposed(x.baseAddress! + first * d, rows: rows, x.baseAddress!, rows: n, depth: d,
                                                into: p.baseAddress!)
                    }
                    var localHits = [0, 0, 0, 0], localAP = 0.0
                    for row in 0 ..< rows {
                        let query = first + row
                        var order = (0 ..< n).filter { $0 != query }
                        let distances = (0 ..< n).map { norms[query] + norms[$0] - 2 * products[row * n + $0] }
                        order.sort { distances[$0] < distances[$1] || (distances[$0] == distances[$1] && $0 < $1) }
                        let ranking = order.map { labels[$0] == labels[query] }
                        for (slot, r) in [1, 2, 4, 8].enumerated() where ranking.prefix(r).contains(true) { localHits[slot] += 1 }
                        localAP += LabelRetrieval.averagePrecision(ranking: ranking, relevantCount: classSizes[labels[query]]! - 1)
                    }
                    hitOut.value[b] = localHits
                    apOut.value[b] = localAP
                    progress?(min(n, first + rows), n)
                }
            }
        }
    }
    let totals = (0 ..< 4).map { slot in hits.reduce(0) { $0 + $1[slot] } }
    return RetrievalQuality(recall: [1: Double(totals[0]) / Double(n), 2: Double(totals[1]) / Double(n),
                                     4: Double(totals[2]) / Double(n), 8: Double(totals[3]) / Double(n)],
                            meanAveragePrecision: precisionSums.reduce(0, +) / Double(n))
}

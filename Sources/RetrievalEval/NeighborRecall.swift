import VectorMath

/// Recall of approximate results against exact ground truth, as the ANN benchmarks define it.
public enum NeighborRecall {
    /// `R@1`: the fraction of queries whose first result is the true nearest neighbour.
    public static func rAt1(results: [[VectorID]], groundTruth: [[VectorID]]) -> Double {
        precondition(results.count == groundTruth.count, "one ground-truth row per query")
        guard !results.isEmpty else { return 0 }
        var hits = 0
        for (result, truth) in zip(results, groundTruth) {
            if let first = result.first, let nearest = truth.first, first == nearest { hits += 1 }
        }
        return Double(hits) / Double(results.count)
    }

    /// `k-recall@k`: the mean overlap of the first `k` results with the exact top `k`, over `k`.
    public static func kRecallAtK(results: [[VectorID]], groundTruth: [[VectorID]], k: Int) -> Double {
        precondition(results.count == groundTruth.count, "one ground-truth row per query")
        precondition(k > 0, "k must be positive")
        guard !results.isEmpty else { return 0 }
        var total = 0
        for (result, truth) in zip(results, groundTruth) {
            let expected = Set(truth.prefix(k))
            total += result.prefix(k).reduce(0) { $0 + (expected.contains($1) ? 1 : 0) }
        }
        return Double(total) / Double(results.count * k)
    }
}

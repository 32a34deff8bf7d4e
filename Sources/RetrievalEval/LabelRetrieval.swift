import VectorMath

/// Label-based retrieval quality: a result is relevant when it carries the query's label.
///
/// Rankings must already exclude the query itself (search k+1 and drop it, or search a gallery
/// that does not contain it).
public enum LabelRetrieval {
    /// `Recall@R`: the fraction of queries with at least one relevant item among the first `R`.
    public static func recallAtR(rankedLabels: [[Int32]], queryLabels: [Int32], r: Int) -> Double {
        precondition(rankedLabels.count == queryLabels.count, "one ranking per query")
        guard !queryLabels.isEmpty else { return 0 }
        var hits = 0
        for (ranking, label) in zip(rankedLabels, queryLabels) where ranking.prefix(r).contains(label) { hits += 1 }
        return Double(hits) / Double(queryLabels.count)
    }

    /// Average precision of one ranking: the mean of precision@i over the ranks i of relevant
    /// items, divided by `relevantCount` (all relevant items in the collection, so relevant items
    /// missing from the ranking count as misses).
    public static func averagePrecision(ranking: [Bool], relevantCount: Int) -> Double {
        guard relevantCount > 0 else { return 0 }
        var found = 0
        var sum = 0.0
        for (position, relevant) in ranking.enumerated() where relevant {
            found += 1
            sum += Double(found) / Double(position + 1)
        }
        return sum / Double(relevantCount)
    }

    /// mAP over full rankings: `relevantCounts[q]` is the number of items sharing query q's label.
    public static func meanAveragePrecision(rankedLabels: [[Int32]], queryLabels: [Int32], relevantCounts: [Int]) -> Double {
        precondition(rankedLabels.count == queryLabels.count && relevantCounts.count == queryLabels.count, "one ranking per query")
        guard !queryLabels.isEmpty else { return 0 }
        var total = 0.0
        for q in queryLabels.indices {
            total += averagePrecision(ranking: rankedLabels[q].map { $0 == queryLabels[q] }, relevantCount: relevantCounts[q])
        }
        return total / Double(queryLabels.count)
    }

    /// mAP@100 as Google Landmarks v2 defines it: precision summed at each relevant rank within
    /// the first 100 and divided by `min(#relevant, 100)`. Queries with no relevant item score 0
    /// here (GLDv2 leaves them out of the mean; callers that want that filter them first).
    public static func meanAveragePrecisionAt100(rankedLabels: [[Int32]], queryLabels: [Int32], relevantCounts: [Int]) -> Double {
        precondition(rankedLabels.count == queryLabels.count && relevantCounts.count == queryLabels.count, "one ranking per query")
        guard !queryLabels.isEmpty else { return 0 }
        var total = 0.0
        for q in queryLabels.indices {
            let ranking = rankedLabels[q].prefix(100).map { $0 == queryLabels[q] }
            total += averagePrecision(ranking: Array(ranking), relevantCount: min(relevantCounts[q], 100))
        }
        return total / Double(queryLabels.count)
    }
}

import VectorMath

/// Scores for a set of found duplicate pairs against the true ones.
public struct DuplicateScores: Sendable, Equatable {
    public var found: Int
    public var truePositives: Int
    public var precision: Double
    public var recall: Double
    public var f1: Double
}

public enum DuplicateDetection {
    /// Precision, recall and F1 of `found` against `truth` (pairs as `[first, second]`, first < second).
    public static func score(_ found: [RowPair], truth: Set<[Int]>) -> DuplicateScores {
        let hits = found.count(where: { truth.contains([$0.first, $0.second]) })
        let precision = found.isEmpty ? 1 : Double(hits) / Double(found.count)
        let recall = truth.isEmpty ? 1 : Double(hits) / Double(truth.count)
        let f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0
        return DuplicateScores(found: found.count, truePositives: hits, precision: precision, recall: recall, f1: f1)
    }

    /// The threshold with the best F1 when every pair within it is declared a duplicate, given
    /// all pairs within some generous radius (`candidates`, exact distances). Cuts midway
    /// between neighbouring distances.
    public static func calibrateThreshold(_ candidates: [RowPair], truth: Set<[Int]>) -> Float {
        let sorted = candidates.sorted { $0.distance < $1.distance }
        var hits = 0
        // F1 = 2·TP / (found + true pairs), with the first index + 1 pairs found.
        return ThresholdSweep.best(sorted.map(\.distance), floor: -1) { index in
            if truth.contains([sorted[index].first, sorted[index].second]) { hits += 1 }
            return 2 * Double(hits) / Double(index + 1 + truth.count)
        }.threshold
    }
}

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
        var hits = 0, best = (f1: -1.0, threshold: Float(0))
        for (index, pair) in sorted.enumerated() {
            if truth.contains([pair.first, pair.second]) { hits += 1 }
            let next = index + 1 < sorted.count ? sorted[index + 1].distance : pair.distance * 1.01 + 1e-6
            guard next > pair.distance else { continue }
            let f1 = 2 * Double(hits) / Double(index + 1 + truth.count)
            if f1 > best.f1 { best = (f1, (pair.distance + next) / 2) }
        }
        return best.threshold
    }
}

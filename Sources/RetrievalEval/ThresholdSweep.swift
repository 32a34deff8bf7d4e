/// The search shared by every threshold calibration: accept items in order of distance, score
/// each cut that falls between two different distances, keep the best cut's midpoint.
enum ThresholdSweep {
    /// `distances` ascending and finite. `acceptAndScore(i)` is called for i = 0, 1, … in order:
    /// it accepts item i (updating the caller's counts) and returns the score with items 0…i
    /// accepted. Returns the best cut (the first on ties) and its score, or a threshold below all
    /// distances when no cut beats `floor`.
    static func best(_ distances: [Float], floor: Double, acceptAndScore: (Int) -> Double) -> (threshold: Float, score: Double) {
        var best = (threshold: (distances.first ?? 0) - 1, score: floor)
        for index in distances.indices {
            let score = acceptAndScore(index)
            let next = index + 1 < distances.count ? distances[index + 1] : distances[index] * 1.01 + 1e-6
            guard next > distances[index] else { continue }  // cut only between different distances
            if score > best.score { best = ((distances[index] + next) / 2, score) }
        }
        return best
    }
}

/// Pair verification: two descriptors show the same thing when their distance is at most a
/// threshold. Works on distances already computed, so it serves any metric and any model.
public enum Verification {
    /// A labelled pair's distance: `same` when both items carry the same label.
    public struct Pair: Sendable, Equatable {
        public var distance: Float
        public var same: Bool
        public init(distance: Float, same: Bool) {
            self.distance = distance
            self.same = same
        }
    }

    /// Accuracy with positives and negatives weighted equally (so a set of mostly negative pairs
    /// cannot score by saying "different" to everything).
    public static func balancedAccuracy(_ pairs: [Pair], threshold: Float) -> Double {
        let (accepted, rejected) = rates(pairs, threshold: threshold)
        return (accepted + rejected) / 2
    }

    /// (true-accept rate over positives, true-reject rate over negatives) at `threshold`.
    public static func rates(_ pairs: [Pair], threshold: Float) -> (trueAccept: Double, trueReject: Double) {
        var positives = 0, negatives = 0, trueAccepts = 0, trueRejects = 0
        for pair in pairs {
            if pair.same {
                positives += 1
                if pair.distance <= threshold { trueAccepts += 1 }
            } else {
                negatives += 1
                if !(pair.distance <= threshold) { trueRejects += 1 }
            }
        }
        return (Double(trueAccepts) / Double(max(1, positives)), Double(trueRejects) / Double(max(1, negatives)))
    }

    /// The threshold with the best balanced accuracy: a sweep over the sorted distances, the cut
    /// placed midway between neighbours. Non-finite distances never count as accepted.
    public static func calibrateThreshold(_ pairs: [Pair]) -> Float {
        let sorted = pairs.filter(\.distance.isFinite).sorted { $0.distance < $1.distance }
        let positives = Double(max(1, sorted.count(where: \.same))), negatives = Double(max(1, sorted.count(where: { !$0.same })))
        var acceptedPositives = 0.0, acceptedNegatives = 0.0
        return ThresholdSweep.best(sorted.map(\.distance), floor: 0.5) { index in
            if sorted[index].same { acceptedPositives += 1 } else { acceptedNegatives += 1 }
            return (acceptedPositives / positives + (negatives - acceptedNegatives) / negatives) / 2
        }.threshold
    }

    /// True-accept rate at the threshold where the false-accept rate over the negatives is at
    /// most `falseAcceptRate` (the standard TAR@FAR figure), with that threshold.
    public static func trueAcceptRate(_ pairs: [Pair], atFalseAcceptRate falseAcceptRate: Double) -> (rate: Double, threshold: Float) {
        let negatives = pairs.filter { !$0.same }.map(\.distance).sorted()
        let allowed = Int((Double(negatives.count) * falseAcceptRate).rounded(.down))
        // Accept strictly below the (allowed+1)-th smallest negative distance.
        let threshold = allowed < negatives.count ? negatives[allowed].nextDown : .infinity
        return (rates(pairs, threshold: threshold).trueAccept, threshold)
    }
}

import Testing
@testable import RetrievalEval
@testable import VectorMath

@Suite struct VerificationTests {
    static func pairs(seed: UInt64, positives: Int, negatives: Int) -> [Verification.Pair] {
        // Positives around 0.5, negatives around 1.5, overlapping tails.
        var generator = SeededGenerator(seed: seed)
        return (0 ..< positives).map { _ in .init(distance: Float(0.5 + 0.25 * generator.nextGaussian()), same: true) }
            + (0 ..< negatives).map { _ in .init(distance: Float(1.5 + 0.25 * generator.nextGaussian()), same: false) }
    }

    @Test func theCalibratedThresholdIsTheBestOnAGrid() {
        let pairs = Self.pairs(seed: 1, positives: 2000, negatives: 6000)
        let threshold = Verification.calibrateThreshold(pairs)
        #expect(abs(threshold - 1.0) < 0.1, "two equal-spread Gaussians cross midway: \(threshold)")
        let best = Verification.balancedAccuracy(pairs, threshold: threshold)
        for candidate in stride(from: Float(0), through: 2, by: 0.01) {
            #expect(Verification.balancedAccuracy(pairs, threshold: candidate) <= best + 1e-12)
        }
    }

    @Test func tarAtFarKeepsTheFalseAcceptRateUnderTheTarget() {
        let pairs = Self.pairs(seed: 2, positives: 3000, negatives: 20_000)
        for target in [1e-3, 1e-2, 0.1] {
            let (rate, threshold) = Verification.trueAcceptRate(pairs, atFalseAcceptRate: target)
            let (trueAccept, trueReject) = Verification.rates(pairs, threshold: threshold)
            #expect(1 - trueReject <= target + 1e-12)
            #expect(rate == trueAccept)
            // One step further would pass the target: the threshold is the loosest allowed.
            let nextNegative = pairs.filter { !$0.same && $0.distance > threshold }.map(\.distance).min()!
            #expect(1 - Verification.rates(pairs, threshold: nextNegative).trueReject > target)
        }
        // A looser FAR never lowers the TAR.
        #expect(Verification.trueAcceptRate(pairs, atFalseAcceptRate: 1e-3).rate
                <= Verification.trueAcceptRate(pairs, atFalseAcceptRate: 1e-2).rate)
    }

    @Test func nanDistancesAreNeverAccepted() {
        let pairs: [Verification.Pair] = [.init(distance: .nan, same: true), .init(distance: 0.1, same: true),
                                          .init(distance: 2, same: false)]
        #expect(Verification.rates(pairs, threshold: 10).trueAccept == 0.5)
        #expect(Verification.calibrateThreshold(pairs).isFinite)
    }
}

@Suite struct OpenSetTests {
    @Test func ratesByHand() {
        let probes: [OpenSetIdentification.Probe] = [
            .init(nearestLabel: 1, distance: 0.2, label: 1, known: true),   // identified
            .init(nearestLabel: 2, distance: 0.3, label: 1, known: true),   // accepted, wrong identity
            .init(nearestLabel: 1, distance: 0.9, label: 1, known: true),   // rejected
            .init(nearestLabel: 1, distance: 0.4, label: 7, known: false),  // false accept
            .init(nearestLabel: 2, distance: 1.2, label: 7, known: false),  // rightly rejected
        ]
        let (identified, falseAccepts) = OpenSetIdentification.rates(probes, threshold: 0.5)
        #expect(abs(identified - 1.0 / 3.0) < 1e-12)
        #expect(falseAccepts == 0.5)
        #expect(OpenSetIdentification.identificationRate(probes, atFalseAcceptRate: 0).rate == 1.0 / 3.0)
        let threshold = OpenSetIdentification.calibrateThreshold(probes)
        let (bestIdentified, bestFalse) = OpenSetIdentification.rates(probes, threshold: threshold)
        for candidate in stride(from: Float(0), through: 1.5, by: 0.05) {
            let (i, f) = OpenSetIdentification.rates(probes, threshold: candidate)
            #expect((i + 1 - f) <= (bestIdentified + 1 - bestFalse) + 1e-12)
        }
    }
}

@Suite struct DuplicateDetectionTests {
    @Test func scoresAndCalibration() {
        let truth: Set<[Int]> = [[0, 5], [1, 6], [2, 7]]
        let found = [RowPair(first: 0, second: 5, distance: 0.1), RowPair(first: 1, second: 6, distance: 0.2),
                     RowPair(first: 3, second: 4, distance: 0.25), RowPair(first: 2, second: 7, distance: 0.9)]
        let all = DuplicateDetection.score(found, truth: truth)
        #expect(all.truePositives == 3 && all.precision == 0.75 && all.recall == 1)
        // F1 at 0.22: 2·2/(2+3) = 0.8; at 1: 2·3/(4+3) ≈ 0.857 — the wider cut wins.
        let threshold = DuplicateDetection.calibrateThreshold(found, truth: truth)
        #expect(threshold > 0.9)
        #expect(DuplicateDetection.score([], truth: truth).recall == 0)
    }
}

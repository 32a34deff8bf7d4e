import Testing
@testable import RetrievalEval
@testable import VectorMath

@Suite struct MetricTests {
    func ids(_ values: [UInt64]) -> [VectorID] { values.map { VectorID($0) } }

    @Test func rAt1AndKRecall() {
        let truth = [ids([1, 2, 3]), ids([4, 5, 6])]
        let results = [ids([1, 3, 9]), ids([5, 4, 6])]
        #expect(NeighborRecall.rAt1(results: results, groundTruth: truth) == 0.5)
        // Query 1: {1, 3} of {1, 2, 3}; query 2: all three.
        #expect(abs(NeighborRecall.kRecallAtK(results: results, groundTruth: truth, k: 3) - 5.0 / 6.0) < 1e-12)
    }

    @Test func recallAtR() {
        let rankings: [[Int32]] = [[2, 1, 1], [0, 0, 3], [5, 5, 5]]
        let labels: [Int32] = [1, 3, 4]
        #expect(LabelRetrieval.recallAtR(rankedLabels: rankings, queryLabels: labels, r: 1) == 0)
        #expect(abs(LabelRetrieval.recallAtR(rankedLabels: rankings, queryLabels: labels, r: 2) - 1.0 / 3.0) < 1e-12)
        #expect(abs(LabelRetrieval.recallAtR(rankedLabels: rankings, queryLabels: labels, r: 3) - 2.0 / 3.0) < 1e-12)
    }

    @Test func averagePrecisionByHand() {
        // Relevant at ranks 1 and 3 of 3 relevant in all: (1/1 + 2/3) / 3.
        let ap = LabelRetrieval.averagePrecision(ranking: [true, false, true, false], relevantCount: 3)
        #expect(abs(ap - (1.0 + 2.0 / 3.0) / 3.0) < 1e-12)
        #expect(LabelRetrieval.averagePrecision(ranking: [false, false], relevantCount: 2) == 0)
    }

    @Test func mAPAt100CapsTheDenominatorAt100() {
        // 150 relevant items, the first 100 results all relevant: AP@100 = 100/min(150,100) = 1.
        let ranking = [Int32](repeating: 7, count: 120)
        let capped = LabelRetrieval.meanAveragePrecisionAt100(rankedLabels: [ranking], queryLabels: [7], relevantCounts: [150])
        #expect(abs(capped - 1) < 1e-12)
        // The same ranking under plain mAP is divided by all 150 relevant (120 found).
        let plain = LabelRetrieval.meanAveragePrecision(rankedLabels: [ranking], queryLabels: [7], relevantCounts: [150])
        #expect(abs(plain - 120.0 / 150.0) < 1e-12)
        // One relevant at rank 2 of 1 relevant: AP@100 = 1/2.
        let single = LabelRetrieval.meanAveragePrecisionAt100(rankedLabels: [[0, 7, 0]], queryLabels: [7], relevantCounts: [1])
        #expect(abs(single - 0.5) < 1e-12)
    }
}

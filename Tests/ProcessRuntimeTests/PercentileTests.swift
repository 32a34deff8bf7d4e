import Testing
@testable import ProcessRuntime

@Suite struct PercentileTests {
    @Test func percentileUsesNearestRank() {
        let values = (1 ... 100).map(Double.init).shuffled()
        #expect(percentile(values, 0.5) == 50)
        #expect(percentile(values, 0.99) == 99)
        #expect(percentile([3], 0.99) == 3)
        #expect(percentile([], 0.5) == 0)
        #expect(percentile(sorted: (1 ... 100).map(Double.init), 0.95) == 95)
    }
}

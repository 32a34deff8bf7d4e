import Testing
@testable import CoordinatorService

@Suite struct MovePacingTests {
    @Test func aPageTakesItsEntriesOverTheRate() {
        #expect(MovePacing.pageEnd(started: 1_000, entries: 1_000, rate: 500) == 1_000 + 2_000_000_000)
        #expect(MovePacing.pageEnd(started: 0, entries: 1, rate: 1_000_000) == 1_000)
    }

    @Test func noRateOrAnEmptyPageWaitsForNothingAndHugeValuesDoNotTrap() {
        #expect(MovePacing.pageEnd(started: 5, entries: 1_000, rate: 0) == nil)
        #expect(MovePacing.pageEnd(started: 5, entries: 0, rate: 10) == nil)
        #expect(MovePacing.pageEnd(started: UInt64.max - 1, entries: Int.max, rate: 1) == UInt64.max)
    }
}

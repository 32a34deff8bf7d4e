import Testing
@testable import ProcessRuntime

@Suite struct LatencyRecorderTests {
    @Test func summaryIsInMillisecondsOverTheKeptSamples() {
        let recorder = LatencyRecorder(capacity: 100)
        #expect(recorder.summary().count == 0)
        for value in 1 ... 150 { recorder.record(seconds: Double(value) / 1000) }
        let summary = recorder.summary()
        #expect(summary.count == 150)
        // Only the last 100 (51…150 ms) are kept.
        #expect(summary.p50 == 100)
        #expect(summary.p99 == 149)
    }
}

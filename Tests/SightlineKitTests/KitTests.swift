import Testing
@testable import SightlineKit

@Suite struct KitTests {
    @Test func percentileUsesNearestRank() {
        let values = (1 ... 100).map(Double.init)
        #expect(percentile(values, 0.5) == 50)
        #expect(percentile(values, 0.99) == 99)
        #expect(percentile([3], 0.99) == 3)
        #expect(percentile([], 0.5) == 0)
    }

    @Test func coreTypeFollowsTheCPUFlags() {
        #expect(BLASCoreType.detected(cpuinfo: "flags\t: fpu sse avx avx2 fma avx512f avx512bw avx512vl avx512dq\n") == "SkylakeX")
        #expect(BLASCoreType.detected(cpuinfo: "flags\t: fpu sse avx avx2 fma\n") == "Haswell")
        #expect(BLASCoreType.detected(cpuinfo: "flags\t: fpu sse sse2\n") == nil)
    }

    @Test func errorsAreClassifiedOnce() {
        #expect(SightlineError.classify(SightlineError.badInput("x")).exitStatus == 2)
        #expect(SightlineError.classify(SightlineError.unavailable("x")).exitStatus == 3)
        struct Strange: Error {}
        #expect(SightlineError.classify(Strange()).exitStatus == 1)
    }
}

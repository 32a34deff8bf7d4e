import CSIMDKernels
import Foundation
import Testing
@testable import VectorMath

/// The AVX2 main loops chosen at run time give the portable kernels' exact bits, at every length
/// and alignment (tails included), so a query's distances do not depend on the CPU's features.
@Suite struct KernelDispatchTests {
    @Test func wideKernelsEqualThePortableOnesBitForBit() throws {
        try #require(sightline_cpu_has_avx2() != 0, "this CPU has no AVX2: nothing to compare (the portable kernels run)")
        var generator = SeededGenerator(seed: 3)
        for count in [64, 65, 71, 72, 127, 128, 129, 784, 1000, 4099] {
            for offset in [0, 1, 3] {
                let a = (0 ..< count + offset).map { _ in Float(generator.nextGaussian()) * 10 }
                let b = (0 ..< count + offset).map { _ in Float(generator.nextGaussian()) }
                a.withUnsafeBufferPointer { a in
                    b.withUnsafeBufferPointer { b in
                        let x = a.baseAddress! + offset, y = b.baseAddress! + offset
                        #expect(squaredL2Wide(x, y, count).bitPattern == squaredL2Portable(x, y, count).bitPattern, "l2, \(count)")
                        #expect(dotProductWide(x, y, count).bitPattern == dotProductPortable(x, y, count).bitPattern, "dot, \(count)")
                    }
                }
            }
        }
    }

    @Test func dispatchFollowsTheCPUAndTheSwitch() {
        let forcedPortable = ProcessInfo.processInfo.environment["SIGHTLINE_SIMD"] == "portable"
        #expect(wideKernelsEnabled == (sightline_cpu_has_avx2() != 0 && !forcedPortable))
    }
}

import CSIMDKernels
import CSIMDKernelsEmulated
import Foundation
import Testing
@testable import VectorIndex
@testable import VectorMath

/// The AVX-512 fast-scan kernels give the portable kernel's sums and masks. Their source runs
/// here twice: through SIMDe's emulation of AVX-512 (on every x86-64 CPU) and natively where the
/// CPU has AVX-512BW, so the logic is tested even on machines that cannot run the instructions.
@Suite struct AVX512KernelTests {
    typealias OneQuery = (UnsafePointer<UInt8>, UnsafePointer<UInt8>, Int, UInt16, UnsafeMutablePointer<UInt16>) -> UInt32
    typealias SeveralQueries = (UnsafePointer<UInt8>, UnsafePointer<UInt8>, Int, Int, Int, UnsafePointer<UInt16>,
                                UnsafeMutablePointer<UInt16>, UnsafeMutablePointer<UInt32>) -> Void

    /// The variants under test: the emulated build always, the native one where it runs.
    static var variants: [(name: String, one: OneQuery, several: SeveralQueries)] {
        var variants: [(name: String, one: OneQuery, several: SeveralQueries)] = [
            ("emulated", { UInt32(sightline_fastscan_block_avx512_emulated($0, $1, $2, $3, $4)) },
             { sightline_fastscan_block_queries_avx512_emulated($0, $1, $2, $3, $4, $5, $6, $7) }),
        ]
        if FastScan.Kernel.avx512.isAvailable {
            variants.append(("native", { UInt32(sightline_fastscan_block_avx512($0, $1, $2, $3, $4)) },
                             { sightline_fastscan_block_queries_avx512($0, $1, $2, $3, $4, $5, $6, $7) }))
        }
        return variants
    }

    /// Pair counts even and odd (the odd last pair takes the 256-bit path), from 1 to m 128.
    static let pairCounts = [1, 2, 3, 4, 5, 7, 8, 28, 32, 33, 64]

    @Test func oneQueryKernelEqualsThePortableOne() {
        var generator = SeededGenerator(seed: 51)
        for pairs in Self.pairCounts {
            for _ in 0 ..< 12 {
                let codes = (0 ..< pairs * 32).map { _ in UInt8.random(in: 0 ... 255, using: &generator) }
                let tables = (0 ..< pairs * 32).map { _ in UInt8.random(in: 0 ... 255, using: &generator) }
                var portable = [UInt16](repeating: 0, count: 32)
                let median = pairs * 255
                for threshold in [0, 100, median, 65_535] {
                    let portableMask = sightline_fastscan_block_portable(codes, tables, pairs, UInt16(threshold), &portable)
                    for variant in Self.variants {
                        var sums = [UInt16](repeating: 0, count: 32)
                        let mask = variant.one(codes, tables, pairs, UInt16(threshold), &sums)
                        #expect(sums == portable && mask == portableMask, "\(variant.name), pairs \(pairs), threshold \(threshold)")
                    }
                }
            }
        }
    }

    /// 1–4 queries a pass (and more, capped at 4), tables padded apart, each query's threshold
    /// drawn from its own sums so that masks are mixed.
    @Test func severalQueryKernelEqualsThePortableOne() {
        var generator = SeededGenerator(seed: 52)
        for pairs in Self.pairCounts {
            for queries in 1 ... 5 {
                let stride = pairs * 32 + 32 * Int.random(in: 0 ... 2, using: &generator)
                let codes = (0 ..< pairs * 32).map { _ in UInt8.random(in: 0 ... 255, using: &generator) }
                let tables = (0 ..< stride * queries).map { _ in UInt8.random(in: 0 ... 255, using: &generator) }
                var portableSums = [UInt16](repeating: 0, count: 32 * 4), portableMasks = [UInt32](repeating: 0, count: 4)
                let unbounded = [UInt16](repeating: 65_535, count: 4)
                sightline_fastscan_block_queries_portable(codes, tables, stride, queries, pairs, unbounded, &portableSums, &portableMasks)
                let thresholds = (0 ..< 4).map { portableSums[32 * $0 + Int.random(in: 0 ..< 32, using: &generator)] }
                sightline_fastscan_block_queries_portable(codes, tables, stride, queries, pairs, thresholds, &portableSums, &portableMasks)
                let served = min(queries, 4)
                #expect(portableMasks.prefix(served).allSatisfy { $0 != 0 }, "each query keeps its own threshold's vector")
                for variant in Self.variants {
                    var sums = [UInt16](repeating: 0, count: 32 * 4), masks = [UInt32](repeating: 0, count: 4)
                    variant.several(codes, tables, stride, queries, pairs, thresholds, &sums, &masks)
                    #expect(Array(sums.prefix(32 * served)) == Array(portableSums.prefix(32 * served)),
                            "\(variant.name), pairs \(pairs), queries \(queries)")
                    #expect(Array(masks.prefix(served)) == Array(portableMasks.prefix(served)),
                            "\(variant.name), pairs \(pairs), queries \(queries)")
                }
            }
        }
    }

    /// The kernel a search uses follows the CPU and `SIGHTLINE_SIMD`.
    @Test func selectionFollowsTheCPUAndTheSwitch() {
        let choice = ProcessInfo.processInfo.environment["SIGHTLINE_SIMD"]
        let hasAVX2 = sightline_cpu_has_avx2() != 0, hasAVX512 = sightline_cpu_has_avx512bw() != 0
        let expected: FastScan.Kernel = choice == "portable" || !hasAVX2 ? .portable
            : choice == "avx2" || !hasAVX512 ? .avx2 : .avx512
        #expect(FastScan.Kernel.selected == expected)
        #expect(FastScan.Kernel.avx512.isAvailable == (hasAVX2 && hasAVX512))
    }
}

import CSIMDKernels
import VectorMath

/// The distance from a float query to an 8-bit scalar code (`--refine-codes sq8`): AVX2 where
/// the CPU has it, else the portable loop; both give the same bits.
struct ScalarCodeDistance {
    let metric: Metric
    let wide: Bool

    @inline(__always)
    func callAsFunction(_ query: UnsafePointer<Float>, _ code: UnsafePointer<UInt8>, _ minimum: UnsafePointer<Float>,
                        _ step: UnsafePointer<Float>, _ count: Int) -> Float {
        switch (metric, wide) {
        case (.l2, true): sightline_sq8_l2_avx2(query, code, minimum, step, count)
        case (.l2, false): sightline_sq8_l2_portable(query, code, minimum, step, count)
        case (.innerProduct, true): -sightline_sq8_dot_avx2(query, code, minimum, step, count)
        case (.innerProduct, false): -sightline_sq8_dot_portable(query, code, minimum, step, count)
        }
    }
}

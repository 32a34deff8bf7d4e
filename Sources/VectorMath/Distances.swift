import CSIMDKernels

// Distance kernels over raw pointers. Float addition is not reassociated by the compiler, so the
// loops accumulate in explicit SIMD8 lanes to vectorise, with a scalar tail. Long vectors run
// their main loop in AVX2 when the CPU has it (chosen at run time: one portable binary); the AVX2
// loop keeps the same lanes, one multiply and one add per block, so both give the same bits.

/// Vectors at least this long take the dispatched main loop (shorter ones stay inlined).
@usableFromInline let wideKernelThreshold = 64

/// True when the AVX2 main loops run (the CPU has AVX2 and `SIGHTLINE_SIMD` is not `portable`).
public let wideKernelsEnabled = sightline_wide_kernels_enabled() != 0

/// `‖a − b‖²` over `count` components.
@inlinable
public func squaredL2(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
    if count >= wideKernelThreshold, wideKernelsEnabled { return squaredL2Wide(a, b, count) }
    return squaredL2Portable(a, b, count)
}

/// `⟨a, b⟩` over `count` components.
@inlinable
public func dotProduct(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
    if count >= wideKernelThreshold, wideKernelsEnabled { return dotProductWide(a, b, count) }
    return dotProductPortable(a, b, count)
}

/// The AVX2 main loop, then the same lane sum and tail as the portable kernel.
@usableFromInline
func squaredL2Wide(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
    let main = count & ~7
    var lanes = SIMD8<Float>()
    withUnsafeMutableBytes(of: &lanes) { sightline_l2_lanes_avx2(a, b, main, $0.baseAddress!.assumingMemoryBound(to: Float.self)) }
    var sum = lanes.sum()
    for index in main ..< count {
        let difference = a[index] - b[index]
        sum += difference * difference
    }
    return sum
}

@usableFromInline
func dotProductWide(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
    let main = count & ~7
    var lanes = SIMD8<Float>()
    withUnsafeMutableBytes(of: &lanes) { sightline_dot_lanes_avx2(a, b, main, $0.baseAddress!.assumingMemoryBound(to: Float.self)) }
    var sum = lanes.sum()
    for index in main ..< count { sum += a[index] * b[index] }
    return sum
}

/// The portable kernel (SIMD8 lanes, a scalar tail): the reference every variant must equal.
@inlinable
public func squaredL2Portable(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
    var lanes = SIMD8<Float>()
    var index = 0
    while index + 8 <= count {
        let difference = UnsafeRawPointer(a + index).loadUnaligned(as: SIMD8<Float>.self)
            - UnsafeRawPointer(b + index).loadUnaligned(as: SIMD8<Float>.self)
        lanes += difference * difference
        index += 8
    }
    var sum = lanes.sum()
    while index < count {
        let difference = a[index] - b[index]
        sum += difference * difference
        index += 1
    }
    return sum
}

/// The portable inner product (SIMD8 lanes, a scalar tail).
@inlinable
public func dotProductPortable(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
    var lanes = SIMD8<Float>()
    var index = 0
    while index + 8 <= count {
        lanes += UnsafeRawPointer(a + index).loadUnaligned(as: SIMD8<Float>.self)
            * UnsafeRawPointer(b + index).loadUnaligned(as: SIMD8<Float>.self)
        index += 8
    }
    var sum = lanes.sum()
    while index < count {
        sum += a[index] * b[index]
        index += 1
    }
    return sum
}

/// Squared L2 norm of each row of `matrix`.
public func squaredNorms(_ matrix: Matrix) -> [Float] {
    let dimension = matrix.dimension
    return matrix.withUnsafeBufferPointer { buffer in
        guard let base = buffer.baseAddress else { return [] }
        return (0 ..< matrix.rowCount).map { row in
            let pointer = base + row * dimension
            return dotProduct(pointer, pointer, dimension)
        }
    }
}

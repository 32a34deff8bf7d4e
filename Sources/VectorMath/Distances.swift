// Distance kernels over raw pointers. Float addition is not reassociated by the compiler, so the
// loops accumulate in explicit SIMD8 lanes to vectorise, with a scalar tail.

/// `‖a − b‖²` over `count` components.
@inlinable
public func squaredL2(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
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

/// `⟨a, b⟩` over `count` components.
@inlinable
public func dotProduct(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
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

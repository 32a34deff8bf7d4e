/// A dense row-major matrix of `Float`: `rowCount` vectors of `dimension` components each.
///
/// Layout: `values[row * dimension + component]`. Memory: `rowCount × dimension × 4` bytes.
/// The value type is `Sendable`, so a matrix can be shared by concurrent searches without a lock.
public struct Matrix: Sendable, Equatable {
    public private(set) var values: [Float]
    public let dimension: Int

    public var rowCount: Int { dimension == 0 ? 0 : values.count / dimension }
    public var isEmpty: Bool { values.isEmpty }

    /// Wraps `values` (row-major); `values.count` must be a multiple of `dimension`.
    public init(dimension: Int, values: [Float]) throws(VectorMathError) {
        guard dimension > 0 else { throw .invalidDimension(dimension) }
        guard values.count % dimension == 0 else {
            throw .ragged(valueCount: values.count, dimension: dimension)
        }
        self.dimension = dimension
        self.values = values
    }

    /// The `d × d` identity.
    public static func identity(_ d: Int) -> Matrix {
        var result = Matrix(zeros: d, dimension: d)
        result.withUnsafeMutableBufferPointer { values in for i in 0 ..< d { values[i * d + i] = 1 } }
        return result
    }

    /// A matrix of `rowCount` zero rows.
    public init(zeros rowCount: Int, dimension: Int) {
        precondition(dimension > 0 && rowCount >= 0, "matrix shape must be positive")
        self.dimension = dimension
        self.values = [Float](repeating: 0, count: rowCount * dimension)
    }

    /// Builds a matrix from equally long rows.
    public init(rows: [[Float]]) throws(VectorMathError) {
        guard let first = rows.first else { throw .empty("rows") }
        var flat: [Float] = []
        flat.reserveCapacity(rows.count * first.count)
        for row in rows {
            guard row.count == first.count else {
                throw .dimensionMismatch(expected: first.count, got: row.count)
            }
            flat.append(contentsOf: row)
        }
        try self.init(dimension: first.count, values: flat)
    }

    public func row(_ index: Int) -> ArraySlice<Float> {
        values[index * dimension ..< (index + 1) * dimension]
    }

    public mutating func setRow(_ index: Int, _ row: some Collection<Float>) {
        precondition(row.count == dimension, "row length must equal the dimension")
        var target = index * dimension
        for value in row { values[target] = value; target += 1 }
    }

    /// Appends the rows of `other`, which must have the same dimension.
    public mutating func append(_ other: Matrix) throws(VectorMathError) {
        guard other.dimension == dimension else {
            throw .dimensionMismatch(expected: dimension, got: other.dimension)
        }
        values.append(contentsOf: other.values)
    }

    /// The rows at `indices`, in that order.
    public func rows(at indices: some Sequence<Int>) -> Matrix {
        var flat: [Float] = []
        for index in indices { flat.append(contentsOf: row(index)) }
        var result = Matrix(zeros: 0, dimension: dimension)
        result.values = flat
        return result
    }

    /// Rows `range` as a new matrix.
    public func slice(_ range: Range<Int>) -> Matrix {
        var result = Matrix(zeros: 0, dimension: dimension)
        result.values = Array(values[range.lowerBound * dimension ..< range.upperBound * dimension])
        return result
    }

    /// Index of the first row holding NaN or ±infinity, if any.
    public func firstNonFiniteRow() -> Int? {
        values.withUnsafeBufferPointer { buffer in
            for index in 0 ..< buffer.count where !buffer[index].isFinite { return index / dimension }
            return nil
        }
    }

    /// Throws unless every component is finite; the error names the first bad row.
    public func validateFinite(_ what: String) throws(VectorMathError) {
        if let row = firstNonFiniteRow() { throw .nonFinite(what: what, row: row) }
    }

    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try values.withUnsafeBufferPointer(body)
    }

    public mutating func withUnsafeMutableBufferPointer<R>(
        _ body: (inout UnsafeMutableBufferPointer<Float>) throws -> R
    ) rethrows -> R {
        try values.withUnsafeMutableBufferPointer(body)
    }

    /// Scales every row to unit L2 norm (zero rows stay zero).
    public mutating func normalizeRows() {
        let dimension = self.dimension
        values.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            for row in 0 ..< buffer.count / dimension {
                let pointer = base + row * dimension
                let norm = dotProduct(pointer, pointer, dimension).squareRoot()
                if norm > 0 { for j in 0 ..< dimension { pointer[j] /= norm } }
            }
        }
    }
}

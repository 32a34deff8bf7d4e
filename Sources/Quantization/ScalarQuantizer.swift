import VectorMath

/// An 8-bit scalar quantizer (`QT_8bit` of FAISS's `ScalarQuantizer`): each component is stored
/// as one of 256 levels between its training minimum and maximum, `value = minimum + code · step`.
/// One byte a dimension instead of four, for re-ranking candidates close to the full vectors.
public struct ScalarQuantizer: Sendable, Equatable {
    /// Per dimension: the lowest level and the distance between levels.
    public let minimum: [Float]
    public let step: [Float]

    public var dimension: Int { minimum.count }

    public init(minimum: [Float], step: [Float]) throws(QuantizationError) {
        guard minimum.count == step.count, !minimum.isEmpty else {
            throw .dimensionMismatch(expected: minimum.count, got: step.count)
        }
        guard minimum.allSatisfy(\.isFinite), step.allSatisfy({ $0.isFinite && $0 > 0 }) else {
            throw .invalidParameter(name: "scalar quantizer step", value: 0, allowed: "finite ranges with positive steps")
        }
        self.minimum = minimum
        self.step = step
    }

    /// The range of each component over `data`; a constant component gets step 1.
    public static func train(_ data: Matrix) throws(QuantizationError) -> ScalarQuantizer {
        guard data.rowCount >= 1 else {
            throw .tooFewTrainingVectors(needed: 1, got: 0, what: "a scalar quantizer")
        }
        var low = Array(data.row(0)), high = low
        for row in 1 ..< data.rowCount {
            for (j, value) in data.row(row).enumerated() {
                low[j] = min(low[j], value)
                high[j] = max(high[j], value)
            }
        }
        let step = zip(low, high).map { low, high -> Float in
            let step = (high - low) / 255
            return step > 0 && step.isFinite ? step : 1
        }
        return try ScalarQuantizer(minimum: low, step: step)
    }

    /// `n × d` bytes, row-major; values outside the training range take the nearest end.
    public func encode(_ data: Matrix) -> [UInt8] {
        precondition(data.dimension == dimension, "callers check the dimension")
        var codes = [UInt8](repeating: 0, count: data.rowCount * dimension)
        data.withUnsafeBufferPointer { values in
            for index in 0 ..< codes.count {
                let j = index % dimension
                let level = ((values[index] - minimum[j]) / step[j]).rounded()
                codes[index] = level >= 255 ? 255 : level >= 0 ? UInt8(level) : 0
            }
        }
        return codes
    }

    /// The vectors the codes stand for.
    public func decode(_ codes: [UInt8]) -> Matrix {
        let values = codes.enumerated().map { index, code in
            let j = index % dimension
            return minimum[j] + Float(code) * step[j]
        }
        // A whole number of rows by construction.
        return try! Matrix(dimension: dimension, values: values)
    }
}

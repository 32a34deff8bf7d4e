import VectorMath

/// Errors of training and encoding. Each says what is wrong and what to do.
public enum QuantizationError: Error, Equatable, CustomStringConvertible {
    case tooFewTrainingVectors(needed: Int, got: Int, what: String)
    case subquantizerCountDoesNotDivide(dimension: Int, m: Int)
    case invalidParameter(name: String, value: Int, allowed: String)
    case dimensionMismatch(expected: Int, got: Int)
    case nonFinite(what: String, row: Int)

    public var description: String {
        switch self {
        case .tooFewTrainingVectors(let needed, let got, let what):
            return "\(what) needs at least \(needed) training vectors, got \(got): give a larger training set or fewer centroids"
        case .subquantizerCountDoesNotDivide(let dimension, let m):
            return "m = \(m) does not divide the dimension \(dimension): choose m among the divisors of \(dimension)"
        case .invalidParameter(let name, let value, let allowed):
            return "\(name) = \(value) is not allowed: \(allowed)"
        case .dimensionMismatch(let expected, let got):
            return "wrong dimension: expected \(expected), got \(got); the vectors must come from the model the codebooks were trained on"
        case .nonFinite(let what, let row):
            return "\(what) row \(row) holds NaN or infinity: clean or drop that vector"
        }
    }

    static func from(_ error: VectorMathError) -> QuantizationError {
        switch error {
        case .dimensionMismatch(let expected, let got): return .dimensionMismatch(expected: expected, got: got)
        case .nonFinite(let what, let row): return .nonFinite(what: what, row: row)
        default: return .invalidParameter(name: "input", value: 0, allowed: error.description)
        }
    }
}

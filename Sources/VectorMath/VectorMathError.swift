/// Errors of the numeric core. Each case carries what was expected and what was found.
public enum VectorMathError: Error, Equatable, CustomStringConvertible {
    case invalidDimension(Int)
    case dimensionMismatch(expected: Int, got: Int)
    case ragged(valueCount: Int, dimension: Int)
    case nonFinite(what: String, row: Int)
    case empty(String)
    case invalidK(k: Int, available: Int)

    public var description: String {
        switch self {
        case .invalidDimension(let dimension):
            return "dimension \(dimension) is not positive: vectors need at least one component"
        case .dimensionMismatch(let expected, let got):
            return "wrong dimension: expected \(expected), got \(got); check that both sets come from the same model"
        case .ragged(let valueCount, let dimension):
            return "\(valueCount) values do not split into rows of \(dimension): the data is truncated or of another dimension"
        case .nonFinite(let what, let row):
            return "\(what) row \(row) holds NaN or infinity: clean or drop that vector"
        case .empty(let what):
            return "\(what) is empty: nothing to work on"
        case .invalidK(let k, let available):
            return "k = \(k) is out of range: it must be between 1 and \(available) (the number of vectors searched)"
        }
    }
}

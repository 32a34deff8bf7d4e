import Datasets
import Descriptors
import Quantization
import VectorIndex
import VectorMath

/// Every error a command can end with, classified once: bad input (exit status 2, the user can
/// fix it), unavailable (exit 3, try again later) or internal (exit 1, a bug to report).
public enum SightlineError: Error, CustomStringConvertible {
    case badInput(String)
    case unavailable(String)
    case internalError(String)

    public var description: String {
        switch self {
        case .badInput(let text), .unavailable(let text), .internalError(let text): return text
        }
    }

    public var exitStatus: Int32 {
        switch self {
        case .badInput: return 2
        case .unavailable: return 3
        case .internalError: return 1
        }
    }

    /// Maps any module's error to its class.
    public static func classify(_ error: any Error) -> SightlineError {
        switch error {
        case let error as SightlineError: return error
        case let error as DatasetError: return .badInput(error.description)
        case let error as VectorIndexError: return .badInput(error.description)
        case let error as QuantizationError: return .badInput(error.description)
        case let error as VectorMathError: return .badInput(error.description)
        case let error as DescriptorError: return .badInput(error.description)
        default: return .internalError("\(error)")
        }
    }
}

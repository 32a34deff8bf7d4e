import ClusterModel
import Quantization
import ShardStore
import Transport
import VectorIndex
import VectorMath
import Wire

/// Classifies every error a service meets, once, into the wire's error codes.
public enum ServiceErrors {
    public static func reply(for error: any Error) -> ErrorReply {
        switch error {
        case let error as ErrorReply: return error
        case let error as WireError: return ErrorReply(error.code, error.description)
        case let error as VectorIndexError: return ErrorReply(.badRequest, error.description)
        case let error as QuantizationError: return ErrorReply(.badRequest, error.description)
        case let error as VectorMathError: return ErrorReply(.badRequest, error.description)
        case let error as StoreError:
            switch error {
            case .codebookConflict, .otherCluster: return ErrorReply(.conflict, error.description)
            default: return ErrorReply(.internalError, error.description)
            }
        case let error as TransportError:
            return ErrorReply(error.isUnavailable ? .unavailable : .internalError, error.description)
        case let error as ConfigError: return ErrorReply(.badRequest, error.description)
        default: return ErrorReply(.internalError, "\(error)")
        }
    }
}

/// A stable version for a codebook: FNV-1a over the trained index file's bytes.
public func codebookVersion(of indexFile: [UInt8]) -> UInt64 {
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    for byte in indexFile { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
    return hash == 0 ? 1 : hash
}

/// Checks a search's vectors before any work: dimension and finiteness.
public func validateQueries(_ batch: VectorBatch, dimension: Int) throws(ErrorReply) {
    guard batch.dimension == dimension else {
        throw ErrorReply(.badRequest, "wrong dimension: the collection holds \(dimension)-d vectors, got \(batch.dimension)-d")
    }
    guard batch.count > 0, batch.values.count == batch.count * dimension else {
        throw ErrorReply(.badRequest, "\(batch.values.count) values do not make whole \(dimension)-d vectors")
    }
    if let position = batch.values.firstIndex(where: { !$0.isFinite }) {
        throw ErrorReply(.badRequest, "vector \(position / dimension) holds NaN or infinity: clean or drop it")
    }
}

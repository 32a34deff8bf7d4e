import Quantization
import VectorMath

/// Errors of building, searching and loading indexes. Each says what is wrong and how to fix it.
public enum VectorIndexError: Error, Equatable, CustomStringConvertible {
    case dimensionMismatch(expected: Int, got: Int)
    case nonFinite(what: String, row: Int)
    case invalidK(k: Int, available: Int)
    case invalidProbeCount(nprobe: Int, nlist: Int)
    case invalidParameter(String)
    case idCountMismatch(vectors: Int, ids: Int)
    case duplicateID(VectorID)
    case emptyIndex
    case refineNeedsVectors
    case quantization(QuantizationError)
    case corruptFile(String)
    case truncatedFile(needed: Int, available: Int)
    case unsupportedVersion(found: UInt32, supported: UInt32)

    public var description: String {
        switch self {
        case .dimensionMismatch(let expected, let got):
            return "wrong dimension: the index holds \(expected)-d vectors, got \(got)-d; use vectors from the same model"
        case .nonFinite(let what, let row):
            return "\(what) row \(row) holds NaN or infinity: clean or drop that vector"
        case .invalidK(let k, let available):
            return "k = \(k) is out of range: it must be between 1 and \(available) (the vectors in the index)"
        case .invalidProbeCount(let nprobe, let nlist):
            return "nprobe = \(nprobe) is out of range: it must be between 1 and nlist = \(nlist)"
        case .invalidParameter(let text):
            return text
        case .idCountMismatch(let vectors, let ids):
            return "\(vectors) vectors but \(ids) ids: give exactly one id per vector"
        case .duplicateID(let id):
            return "id \(id) appears twice in one batch: ids must be unique"
        case .emptyIndex:
            return "the index holds no vectors: build it from a base set first"
        case .refineNeedsVectors:
            return "refine needs the full vectors or their 8-bit codes: build the index with --store-vectors or --refine-codes sq8"
        case .quantization(let error):
            return error.description
        case .corruptFile(let text):
            return "the index file is corrupt (\(text)): rebuild it or restore a copy"
        case .truncatedFile(let needed, let available):
            return "the index file is truncated: needed \(needed) bytes, found \(available); it was cut off while being written, rebuild it"
        case .unsupportedVersion(let found, let supported):
            return "index file version \(found) is not supported (this Sightline reads version \(supported)): rebuild it with this version"
        }
    }
}

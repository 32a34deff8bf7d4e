/// Errors of reading and resolving vector data. Each names the file and says what to do.
public enum DatasetError: Error, Equatable, CustomStringConvertible {
    case fileNotFound(String)
    case unreadable(path: String, reason: String)
    case empty(String)
    case truncated(path: String, detail: String)
    case unknownFormat(String)
    case inconsistentDimension(path: String, record: Int, expected: Int, got: Int)
    case malformed(path: String, detail: String)
    case unknownDataset(String)
    case invalidSpec(String)
    case nonFinite(path: String, row: Int)

    public var description: String {
        switch self {
        case .fileNotFound(let path):
            return "\(path): no such file; check the path (datasets by name: fashion-mnist, synthetic:...)"
        case .unreadable(let path, let reason):
            return "\(path): cannot be read (\(reason))"
        case .empty(let path):
            return "\(path) is empty: it holds no vectors"
        case .truncated(let path, let detail):
            return "\(path) is truncated (\(detail)): the file was cut off; copy or export it again"
        case .unknownFormat(let path):
            return "\(path): unknown format; use .fvecs, .bvecs, .ivecs, .npy or gzip'd IDX (-idx3-ubyte.gz)"
        case .inconsistentDimension(let path, let record, let expected, let got):
            return "\(path): record \(record) has dimension \(got), earlier records \(expected): the file is corrupt or mixes two sets"
        case .malformed(let path, let detail):
            return "\(path): malformed (\(detail))"
        case .unknownDataset(let name):
            return "unknown dataset \"\(name)\": give a file path, \"fashion-mnist\" or \"synthetic:n=…,d=…\""
        case .invalidSpec(let detail):
            return "invalid synthetic spec: \(detail)"
        case .nonFinite(let path, let row):
            return "\(path): row \(row) holds NaN or infinity: clean or drop that vector"
        }
    }
}

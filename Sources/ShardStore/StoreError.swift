/// Errors of the durable stores.
public enum StoreError: Error, Equatable, CustomStringConvertible {
    case sqlite(operation: String, code: Int32, message: String)
    case otherCluster(found: String, expected: String)
    case otherShard(found: UInt32, expected: UInt32)
    case codebookConflict(stored: UInt64, offered: UInt64)
    case corrupt(String)
    /// Another change is under way (one move at a time).
    case busy(String)

    public var description: String {
        switch self {
        case .sqlite(let operation, let code, let message):
            return "storage error during \(operation): \(message) (SQLite code \(code))"
        case .otherCluster(let found, let expected):
            return "the data directory belongs to cluster \"\(found)\", not \"\(expected)\": use another --data directory"
        case .otherShard(let found, let expected):
            return "the data directory holds shard \(found), not shard \(expected): "
                + "start it with --shard \(found) or use another --data directory"
        case .codebookConflict(let stored, let offered):
            return "the shard holds vectors encoded with codebook version \(stored); version \(offered) is refused "
                + "(delete its vectors first)"
        case .corrupt(let detail):
            return "the store is corrupt: \(detail)"
        case .busy(let detail):
            return "\(detail): wait for it to finish (sightline cluster status) or resume it (sightline cluster rebalance)"
        }
    }
}

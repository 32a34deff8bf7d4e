import ClusterModel
import Wire

extension RequestBody {
    /// The least role that may send this request.
    public var requiredRole: AccessRole {
        switch self {
        case .search, .searchBatch, .stats, .health, .codebookFetch, .verify, .identify, .fetchVectors: return .read
        case .add, .delete: return .write
        case .codebookPush, .shardTransfer: return .cluster
        }
    }
}

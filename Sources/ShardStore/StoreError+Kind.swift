import ErrorKinds

extension StoreError: ClassifiedError {
    /// Another cluster's data or other codebooks cannot be fixed by retrying; SQLite failures and
    /// corrupt rows are ours to investigate.
    public var kind: ErrorKind {
        switch self {
        case .otherCluster, .otherShard, .codebookConflict, .busy: return .conflict
        case .sqlite, .corrupt: return .internalError
        }
    }
}

/// What a token may do. Each role may do what the roles before it may.
public enum AccessRole: Int, Sendable, Comparable, CaseIterable, CustomStringConvertible {
    /// Search, verify, identify, stats, health, fetch vectors and codebooks.
    case read
    /// Also add and delete.
    case write
    /// The cluster's own traffic: also push codebooks and transfer shards.
    case cluster

    public static func < (lhs: AccessRole, rhs: AccessRole) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String {
        switch self {
        case .read: return "read"
        case .write: return "write"
        case .cluster: return "cluster"
        }
    }
}

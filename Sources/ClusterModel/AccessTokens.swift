import Wire

/// The tokens a service accepts and the role each grants. An empty cluster token turns the check
/// off (every request gets the cluster role), for a cluster on loopback only.
public struct AccessTokens: Sendable, Equatable {
    public var cluster: [UInt8]
    public var write: [UInt8]?
    public var read: [UInt8]?

    public init(cluster: String, write: String? = nil, read: String? = nil) {
        self.cluster = Array(cluster.utf8)
        self.write = write.map { Array($0.utf8) }
        self.read = read.map { Array($0.utf8) }
    }

    public var checksTokens: Bool { !cluster.isEmpty }

    /// The role `token` grants, or nil for no role. Every configured token is compared in full,
    /// whichever matches, so the time does not say which one was close.
    public func role(of token: [UInt8]) -> AccessRole? {
        guard checksTokens else { return .cluster }
        let isCluster = constantTimeEquals(token, cluster)
        let isWrite = write.map { constantTimeEquals(token, $0) } ?? false
        let isRead = read.map { constantTimeEquals(token, $0) } ?? false
        if isCluster { return .cluster }
        if isWrite { return .write }
        if isRead { return .read }
        return nil
    }
}

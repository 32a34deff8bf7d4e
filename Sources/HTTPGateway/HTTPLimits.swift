/// What the HTTP listener allows a connection before it has earned anything: how many may be
/// open (over all peers and from one address), how long a request's head and body may take to
/// arrive, and how long an idle keep-alive connection is kept. Together they bound the file
/// descriptors and memory strangers can hold; the descriptors matter most, because the
/// coordinator's links to its workers draw on the same process limit.
public struct HTTPLimits: Sendable, Equatable {
    /// Connections open at once (`[http] max_connections`); a connection past it is answered 503
    /// and closed at once.
    public var maxConnections: Int
    /// Connections open at once from one IPv4 address or IPv6 /64 (`max_connections_per_address`).
    public var maxConnectionsPerAddress: Int
    /// From a request's first byte to the end of its head (`header_timeout_seconds`): a head sent
    /// a byte at a time is cut off here.
    public var headerTimeoutSeconds: Double
    /// From a connection's opening, or its last answer, to the next request's first byte
    /// (`idle_timeout_seconds`).
    public var idleTimeoutSeconds: Double
    /// From the end of a head to the end of its body.
    public var bodyTimeoutSeconds: Double
    /// Largest request head (request line and headers) in bytes; a larger one closes the connection.
    public var maxHeadBytes: Int

    public static let defaultMaxConnections = 1024
    public static let defaultMaxConnectionsPerAddress = 128

    public init(maxConnections: Int = HTTPLimits.defaultMaxConnections,
                maxConnectionsPerAddress: Int = HTTPLimits.defaultMaxConnectionsPerAddress,
                headerTimeoutSeconds: Double = 10, idleTimeoutSeconds: Double = 60, bodyTimeoutSeconds: Double = 30,
                maxHeadBytes: Int = 64 << 10) {
        self.maxConnections = max(1, maxConnections)
        self.maxConnectionsPerAddress = max(1, maxConnectionsPerAddress)
        self.headerTimeoutSeconds = max(0.01, headerTimeoutSeconds)
        self.idleTimeoutSeconds = max(0.01, idleTimeoutSeconds)
        self.bodyTimeoutSeconds = max(0.01, bodyTimeoutSeconds)
        self.maxHeadBytes = max(1024, maxHeadBytes)
    }
}

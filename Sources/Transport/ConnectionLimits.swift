/// How many connections a `ReplyServer` keeps, and for how long it waits for a new one to prove
/// itself. A connection is *authenticated* once a frame it sent passed the server's token check
/// (`ReplyServer.Authenticator`); until then it is a stranger, and strangers are what the caps
/// bound: nng reads a frame before the server sees its token, so each stranger may pin one frame
/// (up to the receive limit) and one table entry (~100 bytes), nothing more.
///
/// Authenticated connections (the coordinator's links to its workers, clients with a token) are
/// never closed to make room and never count against the stranger caps, so strangers cannot starve
/// them; only `maxAuthenticated` bounds them.
public struct ConnectionLimits: Sendable, Equatable {
    /// Strangers kept at once over all peers (`--max-connections`). A new connection past it closes
    /// the oldest idle stranger of the address that holds the most, so a new client always gets a
    /// place and a flood from a few addresses evicts its own connections first.
    /// Memory strangers can pin: this × the receive limit.
    public var maxUnauthenticated: Int
    /// Strangers kept at once from one address (IPv4 address, IPv6 /64 prefix; `ipc://` peers are
    /// not told apart). A new connection past it closes that address's oldest idle stranger.
    public var maxUnauthenticatedPerPeer: Int
    /// Authenticated connections kept at once. A connection that authenticates past it stays a
    /// stranger (it is closed after the grace period; nng clients redial at once).
    public var maxAuthenticated: Int
    /// How long a stranger may stay connected without sending an authenticated frame, in
    /// milliseconds. Longer tolerates slow first requests; shorter frees places sooner. Frames being
    /// answered do not run out, and the clock pauses while every request thread is busy (a frame
    /// queued inside nng cannot be seen).
    public var graceMilliseconds: Int

    public static let defaultMaxUnauthenticated = 64
    public static let defaultMaxUnauthenticatedPerPeer = 32
    public static let defaultMaxAuthenticated = 256
    public static let defaultGraceMilliseconds = 3000

    public init(maxUnauthenticated: Int = ConnectionLimits.defaultMaxUnauthenticated,
                maxUnauthenticatedPerPeer: Int = ConnectionLimits.defaultMaxUnauthenticatedPerPeer,
                maxAuthenticated: Int = ConnectionLimits.defaultMaxAuthenticated,
                graceMilliseconds: Int = ConnectionLimits.defaultGraceMilliseconds) {
        self.maxUnauthenticated = max(1, maxUnauthenticated)
        self.maxUnauthenticatedPerPeer = max(1, maxUnauthenticatedPerPeer)
        self.maxAuthenticated = max(0, maxAuthenticated)
        self.graceMilliseconds = max(1, graceMilliseconds)
    }
}

/// Where a connection comes from, as far as the per-peer cap is concerned: an IPv4 address (the
/// port is ignored) or an IPv6 /64 prefix (one host commonly holds a whole /64). IPv4-mapped IPv6
/// addresses count as IPv4.
enum PeerAddress: Hashable, Sendable {
    case ipv4(UInt32)
    case ipv6Prefix(UInt64)

    /// `bytes`: an IPv6 address in network order (16 bytes).
    init(ipv6 bytes: [UInt8]) {
        precondition(bytes.count == 16, "an IPv6 address has 16 bytes")
        if bytes[0 ..< 10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF {
            self = .ipv4(bytes[12 ..< 16].reduce(0) { $0 << 8 | UInt32($1) })
        } else {
            self = .ipv6Prefix(bytes[0 ..< 8].reduce(0) { $0 << 8 | UInt64($1) })
        }
    }
}

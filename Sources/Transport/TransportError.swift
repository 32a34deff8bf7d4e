import CNNG

/// Errors of moving bytes. `timedOut` and `unreachable` mean "try again"; the others are bugs or
/// bad addresses.
public enum TransportError: Error, Equatable, CustomStringConvertible {
    case nng(operation: String, code: Int32, message: String)
    case timedOut(operation: String)
    case closed
    case invalidAddress(String)
    /// Nothing serves the address (an in-process server that was closed).
    case unreachable(String)
    /// TLS is misconfigured: a missing or unreadable file, or a scheme that does not match.
    case tls(String)

    public var description: String {
        switch self {
        case .nng(let operation, _, let message): return "\(operation) failed: \(message)"
        case .timedOut(let operation): return "\(operation) timed out"
        case .closed: return "the socket is closed"
        case .invalidAddress(let url): return "\(url) is not a valid address: use tcp://HOST:PORT or ipc:///path"
        case .unreachable(let url): return "nothing answers at \(url)"
        case .tls(let detail): return "TLS: \(detail)"
        }
    }

    /// True when the peer could not be reached or answered too late.
    public var isUnavailable: Bool {
        switch self {
        case .timedOut, .closed, .unreachable: return true
        case .nng(_, let code, _): return code == Int32(NNG_ECONNREFUSED.rawValue) || code == Int32(NNG_ECONNSHUT.rawValue)
                                          || code == Int32(NNG_ECONNRESET.rawValue)
        case .invalidAddress, .tls: return false
        }
    }
}

/// Turns an nng return code into a typed error with nng's own text; never matches on the text.
func check(_ code: Int32, _ operation: String) throws(TransportError) {
    guard code != 0 else { return }
    if code == Int32(NNG_ETIMEDOUT.rawValue) { throw .timedOut(operation: operation) }
    if code == Int32(NNG_ECLOSED.rawValue) { throw .closed }
    if code == Int32(NNG_EADDRINVAL.rawValue) || code == Int32(NNG_ENOTSUP.rawValue) { throw .invalidAddress(operation) }
    throw .nng(operation: operation, code: code, message: String(cString: nng_strerror(code)))
}

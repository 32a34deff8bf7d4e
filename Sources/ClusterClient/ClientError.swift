import ErrorKinds
import Transport
import Wire

/// Errors a client sees: the server's typed reply, or a transport failure on the way there.
public enum ClientError: ClassifiedError {
    case server(ErrorReply)
    case transport(TransportError, url: String)
    case unexpectedReply(String)

    public var description: String {
        switch self {
        case .server(let reply): return "\(reply.code): \(reply.message)"
        case .transport(let error, let url): return "\(url): \(error); is it running and reachable?"
        case .unexpectedReply(let what): return "unexpected reply: \(what)"
        }
    }

    /// The server's own kind for its replies; the transport's for failures on the way.
    public var kind: ErrorKind {
        switch self {
        case .server(let reply): return reply.kind
        case .transport(let error, _): return error.kind
        case .unexpectedReply: return .internalError
        }
    }

    /// The reply a coordinator relays for this failure of one of its workers.
    public var reply: ErrorReply {
        switch self {
        case .server(let reply): return reply
        default: return ErrorReply(kind.wireCode, description)
        }
    }
}

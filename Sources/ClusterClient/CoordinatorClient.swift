import Synchronization
import Transport
import Wire

/// Errors a client sees: the server's typed reply, or a transport failure.
public enum ClientError: Error, CustomStringConvertible {
    case server(ErrorReply)
    case transport(TransportError)
    case unexpectedReply(String)

    public var description: String {
        switch self {
        case .server(let reply): return "\(reply.code): \(reply.message)"
        case .transport(let error): return "\(error): is the coordinator running and reachable?"
        case .unexpectedReply(let what): return "unexpected reply: \(what)"
        }
    }
}

/// A typed client of the coordinator (or of one worker: the messages are the same).
/// Thread-safe: every call uses its own nng context.
public final class CoordinatorClient: Sendable {
    let connection: RequestClient
    public let token: String
    public let collection: String
    let nextID = Atomic<UInt64>(1)

    public init(url: String, token: String, collection: String = "") throws {
        connection = try RequestClient(dial: url)
        self.token = token
        self.collection = collection
    }

    /// Sends one request and returns the reply's body; a server error reply throws.
    public func call(_ body: RequestBody, deadlineMilliseconds: Int = 5000) throws -> ResponseBody {
        let envelope = Envelope(requestID: nextID.wrappingAdd(1, ordering: .relaxed).oldValue, token: token,
                                deadlineMilliseconds: UInt32(clamping: deadlineMilliseconds), collection: collection)
        let frame = WireCodec.encode(Request(envelope: envelope, body: body))
        // The server answers within the deadline; allow a margin for the network and the merge.
        let bytes: [UInt8]
        do { bytes = try connection.request(frame, timeoutMilliseconds: deadlineMilliseconds + 2000) } catch { throw ClientError.transport(error) }
        return try Self.unwrap(bytes)
    }

    /// The `async` form: no thread waits while the request is in flight.
    public func callAsync(_ body: RequestBody, deadlineMilliseconds: Int = 5000) async throws -> ResponseBody {
        let envelope = Envelope(requestID: nextID.wrappingAdd(1, ordering: .relaxed).oldValue, token: token,
                                deadlineMilliseconds: UInt32(clamping: deadlineMilliseconds), collection: collection)
        let frame = WireCodec.encode(Request(envelope: envelope, body: body))
        let bytes: [UInt8]
        do { bytes = try await connection.send(frame, timeoutMilliseconds: deadlineMilliseconds + 2000) } catch let error as TransportError {
            throw ClientError.transport(error)
        }
        return try Self.unwrap(bytes)
    }

    /// Sends raw bytes (tests use it to send garbage) and decodes whatever comes back.
    public func callRaw(_ frame: [UInt8], timeoutMilliseconds: Int = 5000) throws -> Response {
        do {
            return try WireCodec.decodeResponse(try connection.request(frame, timeoutMilliseconds: timeoutMilliseconds))
        } catch let error as TransportError {
            throw ClientError.transport(error)
        }
    }

    static func unwrap(_ bytes: [UInt8]) throws -> ResponseBody {
        let response = try WireCodec.decodeResponse(bytes)
        if case .error(let reply) = response.body { throw ClientError.server(reply) }
        return response.body
    }

    // Typed conveniences.

    public func search(_ batch: VectorBatch, options: SearchOptions, deadlineMilliseconds: Int = 5000) throws -> SearchReply {
        guard case .searchBatch(let reply) = try call(.searchBatch(batch, options: options), deadlineMilliseconds: deadlineMilliseconds) else {
            throw ClientError.unexpectedReply("not a search reply")
        }
        return reply
    }

    public func add(_ batch: AddBatch, deadlineMilliseconds: Int = 60_000) throws -> (added: UInt64, ignored: UInt64) {
        guard case .add(let added, let ignored) = try call(.add(batch), deadlineMilliseconds: deadlineMilliseconds) else {
            throw ClientError.unexpectedReply("not an add reply")
        }
        return (added, ignored)
    }

    public func health(deadlineMilliseconds: Int = 2000) throws -> HealthReply {
        guard case .health(let reply) = try call(.health, deadlineMilliseconds: deadlineMilliseconds) else {
            throw ClientError.unexpectedReply("not a health reply")
        }
        return reply
    }

    public func stats(deadlineMilliseconds: Int = 5000) throws -> (shards: [ShardStatsReply], total: UInt64) {
        guard case .stats(let shards, let total) = try call(.stats, deadlineMilliseconds: deadlineMilliseconds) else {
            throw ClientError.unexpectedReply("not a stats reply")
        }
        return (shards, total)
    }
}

import Synchronization
import Transport
import Wire

/// A typed client of a Sightline service: the coordinator (used by the command line) or a worker
/// (used by the coordinator's fan-out); the messages are the same. Thread-safe: every call is its
/// own exchange on the connection.
public final class ServiceClient: Sendable {
    public let connection: any Connection
    public let token: String
    public let collection: String
    /// Time allowed beyond the request's deadline for the network and the server's merge before
    /// the client gives up waiting (0 when the caller enforces the deadline itself).
    public let replyMarginMilliseconds: Int
    let nextID = Atomic<UInt64>(1)

    public init(connection: any Connection, token: String, collection: String = "", replyMarginMilliseconds: Int = 2000) {
        self.connection = connection
        self.token = token
        self.collection = collection
        self.replyMarginMilliseconds = replyMarginMilliseconds
    }

    /// Dials `url` over nng (TLS with `tls`, which a `tls+tcp://` address needs).
    public convenience init(url: String, token: String, collection: String = "", tls: TLSSettings? = nil) throws {
        do {
            self.init(connection: try NNGConnection(dial: url, tls: tls), token: token, collection: collection)
        } catch {
            throw ClientError.transport(error, url: url)
        }
    }

    public var url: String { connection.url }

    /// The request frame: envelope (fresh id, token, deadline, collection) and body.
    func frame(_ body: RequestBody, deadlineMilliseconds: Int, sequence: WriteSequence? = nil) -> [UInt8] {
        let envelope = Envelope(requestID: nextID.wrappingAdd(1, ordering: .relaxed).oldValue, token: token,
                                deadlineMilliseconds: UInt32(clamping: deadlineMilliseconds), collection: collection, sequence: sequence)
        return WireCodec.encode(Request(envelope: envelope, body: body))
    }

    func waitLimit(_ deadlineMilliseconds: Int) -> Int { deadlineMilliseconds + replyMarginMilliseconds }

    /// Sends one request and returns the reply's body; a server error reply throws.
    public func call(_ body: RequestBody, deadlineMilliseconds: Int = 5000) throws(ClientError) -> ResponseBody {
        let pending = connection.start(frame(body, deadlineMilliseconds: deadlineMilliseconds),
                                       timeoutMilliseconds: waitLimit(deadlineMilliseconds))
        return try unwrap(pending.wait(), expectedLists: body.repliedLists)
    }

    /// The `async` form: no thread waits while the request is in flight.
    public func callAsync(_ body: RequestBody, deadlineMilliseconds: Int = 5000) async throws(ClientError) -> ResponseBody {
        let bytes = frame(body, deadlineMilliseconds: deadlineMilliseconds)
        let result: Result<[UInt8], TransportError>
        do {
            result = .success(try await connection.send(bytes, timeoutMilliseconds: waitLimit(deadlineMilliseconds)))
        } catch let error as TransportError {
            result = .failure(error)
        } catch {
            result = .failure(.closed)
        }
        return try unwrap(result, expectedLists: body.repliedLists)
    }

    /// Sends one request to each client at once and collects every reply body or failure, so
    /// the slowest peer, not the sum, bounds the time.
    public static func callAll(_ calls: [(client: ServiceClient, body: RequestBody)],
                               deadlineMilliseconds: Int) -> [Result<ResponseBody, ClientError>] {
        calls.map { $0.client.start($0.body, deadlineMilliseconds: deadlineMilliseconds) }.map { $0.wait() }
    }

    /// Sends one request and returns at once; `wait()` on the result gives the reply body.
    /// `sequence` numbers a replicated write.
    public func start(_ body: RequestBody, deadlineMilliseconds: Int, sequence: WriteSequence? = nil) -> PendingCall {
        PendingCall(client: self, expectedLists: body.repliedLists,
                    pending: connection.start(frame(body, deadlineMilliseconds: deadlineMilliseconds, sequence: sequence),
                                              timeoutMilliseconds: waitLimit(deadlineMilliseconds)))
    }

    /// Sends raw bytes (tests use it to send garbage) and decodes whatever comes back.
    public func callRaw(_ frame: [UInt8], timeoutMilliseconds: Int = 5000) throws -> Response {
        do {
            return try WireCodec.decodeResponse(try connection.request(frame, timeoutMilliseconds: timeoutMilliseconds))
        } catch let error as TransportError {
            throw ClientError.transport(error, url: url)
        }
    }

    /// `expectedLists`: result lists the request asked for (see `FrameLimits.replyBytesPerList`).
    func unwrap(_ result: Result<[UInt8], TransportError>, expectedLists: Int) throws(ClientError) -> ResponseBody {
        let response: Response
        switch result {
        case .failure(let error):
            throw .transport(error, url: url)
        case .success(let bytes):
            do { response = try WireCodec.decodeResponse(bytes, expectedLists: expectedLists) } catch {
                throw .unexpectedReply("\(url) sent an unreadable reply: \(error)")
            }
        }
        if case .error(let reply) = response.body { throw .server(reply) }
        return response.body
    }
}

/// A request in flight from `ServiceClient.start`; `wait()` is called once, from one thread
/// (which may be another than the one that started it: hence the unchecked conformance).
public struct PendingCall: @unchecked Sendable {
    let client: ServiceClient
    let expectedLists: Int
    let pending: any PendingReply
    public func wait() -> Result<ResponseBody, ClientError> {
        Result { () throws(ClientError) -> ResponseBody in try client.unwrap(pending.wait(), expectedLists: expectedLists) }
    }
}

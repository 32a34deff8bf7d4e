/// A way to send one request's bytes to a server and get its reply: nng in production
/// (`NNGConnection`), a function call in tests (`InProcessNetwork`). Clients and the
/// coordinator's fan-out speak only this protocol, so the same code runs over either.
public protocol Connection: Sendable {
    /// The server's address, for messages.
    var url: String { get }

    /// Sends `bytes` and returns at once; the reply (or the error) comes from `wait()`. The whole
    /// exchange takes at most `timeoutMilliseconds`.
    func start(_ bytes: [UInt8], timeoutMilliseconds: Int) -> any PendingReply

    /// The exchange for `async` callers: no thread waits while it is in flight.
    func send(_ bytes: [UInt8], timeoutMilliseconds: Int) async throws -> [UInt8]
}

/// A request in flight. `wait()` is called once, from one thread.
public protocol PendingReply {
    func wait() -> Result<[UInt8], TransportError>
}

extension Connection {
    /// Sends `bytes` and blocks until the reply: call it from a dedicated thread, never from
    /// Swift's cooperative pool.
    public func request(_ bytes: [UInt8], timeoutMilliseconds: Int) throws(TransportError) -> [UInt8] {
        try start(bytes, timeoutMilliseconds: timeoutMilliseconds).wait().get()
    }
}

/// Sends every request at once, then collects the replies in order, so the slowest peer, not the
/// sum, bounds the time. Each result is that peer's reply or error.
public func requestAll(_ requests: [(connection: any Connection, bytes: [UInt8])],
                       timeoutMilliseconds: Int) -> [Result<[UInt8], TransportError>] {
    let pending = requests.map { $0.connection.start($0.bytes, timeoutMilliseconds: timeoutMilliseconds) }
    return pending.map { $0.wait() }
}

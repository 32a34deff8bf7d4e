import CNNG
import Foundation

/// A REP server: `workerCount` threads take the requests its connections bring (`StreamResponder`,
/// nng byte streams speaking the REP side of the scalability protocols), call `handler` and write
/// its reply. Handlers run on these dedicated threads, never on Swift's cooperative pool or nng's,
/// so a long search or an SQLite commit blocks nobody else.
///
/// Connections are kept within `ConnectionLimits`: one that has not sent a frame passing the
/// token check (`authenticates`) within the grace period is closed, and such strangers are capped
/// per address and globally, while authenticated connections are never displaced by them.
///
/// `@unchecked Sendable`: the mutable state (`threads`, `closed`) is only touched under `lock`.
public final class ReplyServer: @unchecked Sendable {
    /// Answers one request; the frame is lent for the call only (its memory is reused after).
    public typealias Handler = @Sendable (UnsafeRawBufferPointer) -> [UInt8]
    /// Says whether a frame passed the token check, from the frame and the handler's reply. It is
    /// asked only about frames of connections not yet authenticated (so at most once per
    /// connection that authenticates); a frame refused for its token must return false.
    public typealias Authenticator = @Sendable (_ frame: UnsafeRawBufferPointer, _ reply: [UInt8]) -> Bool
    /// Default cap on connections that have not authenticated yet (`--max-connections`): each may
    /// hold a frame being received, so the memory they can pin is at most this × the receive limit
    /// (64 × 65 MiB).
    public static let defaultMaxConnections = ConnectionLimits.defaultMaxUnauthenticated

    private let responder: StreamResponder
    private let workerCount: Int
    private let lock = NSLock()
    private var threads: [Thread] = []
    private var closed = false
    private let finished = DispatchGroup()
    public let url: String
    /// Kept for the listener's life when the link is TLS.
    private let tlsConfiguration: TLSConfiguration?

    /// Connections currently open.
    public var connectionCount: Int { responder.connections.count }

    /// Connections currently open, by whether they sent an authenticated frame.
    public var connectionCounts: (authenticated: Int, unauthenticated: Int) { responder.connections.counts }

    /// Listens on `url` (`tcp://HOST:PORT`, `ipc:///path`). A frame above `receiveLimit` bytes closes
    /// its connection before anything is allocated for it; set it above the application limit so that frames
    /// between the two get a typed error reply from the handler instead.
    /// With `tls` the address must be `tls+tcp://` (plaintext is refused). Connections are kept
    /// within `limits`; `authenticates` tells which frames authenticate their connection (without
    /// it, any frame the handler answered does).
    public init(listen url: String, receiveLimit: Int, workerCount: Int = 8, tls: TLSSettings? = nil,
                limits: ConnectionLimits = ConnectionLimits(), authenticates: Authenticator? = nil,
                handler: @escaping Handler) throws(TransportError) {
        self.url = url
        self.workerCount = max(1, workerCount)
        try TLSSettings.check(url, tls)
        tlsConfiguration = try tls.map { settings throws(TransportError) in try TLSConfiguration(settings, server: true) }
        responder = try StreamResponder(listen: url, receiveLimit: receiveLimit, requestThreads: self.workerCount, tls: tlsConfiguration,
                                        limits: limits, authenticates: authenticates, handler: handler)
    }

    /// Starts the worker threads.
    public func start() {
        lock.lock()
        defer { lock.unlock() }
        for index in 0 ..< workerCount {
            finished.enter()
            let thread = Thread { [responder, finished] in
                responder.serve()
                finished.leave()
            }
            thread.name = "sightline-rep-\(index)"
            thread.stackSize = 4 << 20
            threads.append(thread)
            thread.start()
        }
    }

    /// Stops accepting, closes every connection and waits for the threads to finish their
    /// current request.
    public func close() {
        lock.lock()
        let wasClosed = closed
        closed = true
        lock.unlock()
        guard !wasClosed else { return }
        responder.shutdown(threads: workerCount)
        finished.wait()
        responder.connections.stopSweeping()
    }

    deinit { close() }
}

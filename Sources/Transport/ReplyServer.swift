import CNNG
import Foundation

/// A REP server: `workerCount` threads, each with its own nng context, receive a request, call
/// `handler` and send its reply. Handlers run on these dedicated threads, never on Swift's
/// cooperative pool, so a long search or an SQLite commit blocks nobody else.
///
/// Connections are kept within `ConnectionLimits`: one that has not sent a frame passing the
/// token check (`authenticates`) within the grace period is closed, and such strangers are capped
/// per address and globally, while authenticated connections are never displaced by them.
///
/// `@unchecked Sendable`: the nng socket is thread-safe, and the mutable state (`threads`,
/// `closed`) is only touched under `lock`.
public final class ReplyServer: @unchecked Sendable {
    /// Answers one request; the frame is lent for the call only (it lives in nng's message).
    public typealias Handler = @Sendable (UnsafeRawBufferPointer) -> [UInt8]
    /// Says whether a frame passed the token check, from the frame and the handler's reply. It is
    /// asked only about frames of connections not yet authenticated (so at most once per
    /// connection that authenticates); a frame refused for its token must return false.
    public typealias Authenticator = @Sendable (_ frame: UnsafeRawBufferPointer, _ reply: [UInt8]) -> Bool
    /// Default cap on connections that have not authenticated yet (`--max-connections`): each may
    /// hold a frame being received, so the memory they can pin is at most this × the receive limit
    /// (64 × 65 MiB).
    public static let defaultMaxConnections = ConnectionLimits.defaultMaxUnauthenticated

    private var socket = nng_socket()
    private let handler: Handler
    private let workerCount: Int
    private let lock = NSLock()
    private var threads: [Thread] = []
    private var closed = false
    /// Replies being sent: `close()` waits for them before it closes the socket (nng 1.5 may
    /// crash when a context sends while its socket is being closed).
    private var sending = 0
    private let finished = DispatchGroup()
    public let url: String
    /// Kept for the listener's life when the link is TLS.
    private let tlsConfiguration: TLSConfiguration?
    private let connections: ConnectionGuard
    private let authenticates: Authenticator?

    /// Connections currently open.
    public var connectionCount: Int { connections.count }

    /// Connections currently open, by whether they sent an authenticated frame.
    public var connectionCounts: (authenticated: Int, unauthenticated: Int) { connections.counts }

    /// Listens on `url` (`tcp://HOST:PORT`, `ipc:///path`). Frames above `receiveLimit` bytes are
    /// dropped by nng with the connection; set it above the application limit so that frames
    /// between the two get a typed error reply from the handler instead.
    /// With `tls` the address must be `tls+tcp://` (plaintext is refused). Connections are kept
    /// within `limits`; `authenticates` tells which frames authenticate their connection (without
    /// it, any frame the handler answered does).
    public init(listen url: String, receiveLimit: Int, workerCount: Int = 8, tls: TLSSettings? = nil,
                limits: ConnectionLimits = ConnectionLimits(), authenticates: Authenticator? = nil,
                handler: @escaping Handler) throws(TransportError) {
        self.url = url
        self.handler = handler
        self.authenticates = authenticates
        self.workerCount = max(1, workerCount)
        connections = ConnectionGuard(limits: limits, requestThreads: self.workerCount)
        try TLSSettings.check(url, tls)
        tlsConfiguration = try tls.map { settings throws(TransportError) in try TLSConfiguration(settings, server: true) }
        try check(nng_rep0_open(&socket), "open reply socket")
        do {
            try check(nng_socket_set_size(socket, NNG_OPT_RECVMAXSZ, receiveLimit), "set receive limit")
            try connections.install(on: socket)
            var listener = nng_listener()
            try check(nng_listener_create(&listener, socket, url), "listen on \(url)")
            if let tlsConfiguration {
                try check(nng_listener_set_ptr(listener, NNG_OPT_TLS_CONFIG, UnsafeMutableRawPointer(tlsConfiguration.handle)),
                          "set TLS on \(url)")
            }
            try check(nng_listener_start(listener, 0), "listen on \(url)")
        } catch {
            nng_close(socket)
            throw error
        }
        connections.startSweeping()
    }

    /// Starts the worker threads.
    public func start() {
        lock.lock()
        defer { lock.unlock() }
        for index in 0 ..< workerCount {
            finished.enter()
            let thread = Thread { [self] in
                serve()
                finished.leave()
            }
            thread.name = "sightline-rep-\(index)"
            thread.stackSize = 4 << 20
            threads.append(thread)
            thread.start()
        }
    }

    private func serve() {
        var context = nng_ctx()
        guard nng_ctx_open(&context, socket) == 0 else { return }
        defer { nng_ctx_close(context) }
        var aio: OpaquePointer?
        guard nng_aio_alloc(&aio, nil, nil) == 0 else { return }
        defer { nng_aio_free(aio) }
        while true {
            nng_ctx_recv(context, aio)
            nng_aio_wait(aio)
            let received = nng_aio_result(aio)
            if received == Int32(NNG_ECLOSED.rawValue) { return }
            guard received == 0, let message = nng_aio_get_msg(aio) else { continue }
            let pipe = nng_msg_get_pipe(message).id
            let wasAuthenticated = connections.received(on: pipe)
            let (reply, authenticated) = withBody(of: message) { frame in
                let reply = handler(frame)
                return (reply, wasAuthenticated || (authenticates?(frame, reply) ?? true))
            }
            connections.answered(on: pipe, authenticated: authenticated)
            guard let outgoing = try? makeMessage(reply) else { continue }
            guard beginSending() else {
                nng_msg_free(outgoing)
                return
            }
            nng_aio_set_msg(aio, outgoing)
            // A client that stops reading cannot hold this thread (or `close()`) for long.
            nng_aio_set_timeout(aio, 5000)
            nng_ctx_send(context, aio)
            nng_aio_wait(aio)
            nng_aio_set_timeout(aio, -1)
            endSending()
            let sent = nng_aio_result(aio)
            if sent != 0 { nng_msg_free(outgoing) }
            if sent == Int32(NNG_ECLOSED.rawValue) { return }
        }
    }

    /// False once the server is closing: the reply is dropped.
    private func beginSending() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard !closed else { return false }
        sending += 1
        return true
    }

    private func endSending() {
        lock.lock()
        sending -= 1
        lock.unlock()
    }

    /// Waits for replies being sent, closes the socket (pending receives end) and waits for the
    /// threads to finish their current request.
    public func close() {
        lock.lock()
        let wasClosed = closed
        closed = true
        lock.unlock()
        guard !wasClosed else { return }
        while true {
            lock.lock()
            let busy = sending > 0
            lock.unlock()
            if !busy { break }
            usleep(1000)
        }
        nng_close(socket)
        finished.wait()
        connections.stopSweeping()
    }

    deinit { close() }
}

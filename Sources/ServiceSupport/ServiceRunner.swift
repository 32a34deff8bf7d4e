import ProcessRuntime
import Transport
import Wire

/// What a service hands the runner once it is built.
public struct ServiceLaunch: Sendable {
    public var listen: String
    /// TLS for the listener (then `listen` must be `tls+tcp://`).
    public var tls: TLSSettings?
    public var handler: ReplyServer.Handler
    /// Said in the log after "listening on URL".
    public var summary: String
    /// Runs after the socket is bound and before requests are served (e.g. the first health check).
    public var beforeServing: @Sendable () -> Void
    /// Runs on SIGINT/SIGTERM, before the socket closes.
    public var beforeClosing: @Sendable () -> Void

    public init(listen: String, tls: TLSSettings? = nil, handler: @escaping ReplyServer.Handler, summary: String,
                beforeServing: @escaping @Sendable () -> Void = {}, beforeClosing: @escaping @Sendable () -> Void = {}) {
        self.listen = listen
        self.tls = tls
        self.handler = handler
        self.summary = summary
        self.beforeServing = beforeServing
        self.beforeClosing = beforeClosing
    }
}

/// The life of a service process, the same for the worker and the coordinator: build the
/// service, listen, serve on `threads` threads until SIGINT or SIGTERM, then close in order.
public enum ServiceRunner {
    /// Returns the process's exit status: 0 after a clean stop, 2 when the service could not
    /// start (the reason is logged).
    public static func run(component: String, threads: Int, maxFrameBytes: Int, maxConnections: Int = ReplyServer.defaultMaxConnections,
                           build: (_ log: @escaping @Sendable (String) -> Void) throws -> ServiceLaunch) -> Int32 {
        let log: @Sendable (String) -> Void = { logLine(component, $0) }
        // Caught from here on: a stop asked for while the service starts is honoured once it serves.
        let termination = TerminationSignal()
        if !keepFreedMemoryInTheHeap() { log("glibc refused the heap settings; freed memory goes back to the kernel") }
        let launch: ServiceLaunch
        let server: ReplyServer
        guard (1 << 10 ... 128 << 20).contains(maxFrameBytes) else {
            log("cannot start: --max-frame-bytes \(maxFrameBytes) is out of range: use 1024…134217728 (128 MiB)")
            return 2
        }
        do {
            launch = try build(log)
            // nng drops frames above its own limit with the connection; keep it above ours so that
            // frames in between get a typed error reply.
            server = try ReplyServer(listen: launch.listen, receiveLimit: maxFrameBytes + (1 << 20), workerCount: threads,
                                     tls: launch.tls, limits: ConnectionLimits(maxUnauthenticated: maxConnections),
                                     authenticates: authenticates(maxFrameBytes: maxFrameBytes), handler: launch.handler)
        } catch {
            log("cannot start: \(error)")
            return 2
        }
        launch.beforeServing()
        server.start()
        log("listening on \(launch.listen)\(launch.summary.isEmpty ? "" : ", " + launch.summary)")
        termination.wait()
        log("stopping")
        launch.beforeClosing()
        server.close()
        return 0
    }

    /// Whether a frame answered by a `RequestGate` passed its token check, read from the outside
    /// (the gate's handler returns bytes only): the frame was within the size limit and its
    /// envelope decoded (the checks before the token), and the reply is neither `UNAUTHORIZED` (a
    /// missing or wrong token) nor `FORBIDDEN` (a token whose role is too low for the body counts
    /// as not authenticated either, which only means its connection is closed after the grace period).
    /// Only replies up to 64 KiB are decoded (a refusal is a sentence; a larger reply answered an
    /// admitted request), once per connection that authenticates and once per frame of a stranger.
    static func authenticates(maxFrameBytes: Int) -> ReplyServer.Authenticator {
        { frame, reply in
            guard frame.count <= maxFrameBytes, (try? WireCodec.decodeEnvelope(frame)) != nil else { return false }
            guard reply.count <= 64 << 10 else { return true }
            guard let response = try? WireCodec.decodeResponse(reply) else { return false }
            if case .error(let error) = response.body, [.unauthorized, .forbidden].contains(error.code) { return false }
            return true
        }
    }
}

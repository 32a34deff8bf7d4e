import CNNG
import Foundation

/// The REP side of the scalability protocols over nng byte streams (`SPFraming`), behind
/// `ReplyServer`: it accepts connections, greets them, reads their requests (`StreamLink`) and
/// queues each for the server's request threads, which answer on the same connection. Links and
/// nng's callbacks refer to it, never to the server, so the server can go while a callback runs.
///
/// Reading pauses on a connection while it has as many requests waiting or being answered as it may
/// (one until it authenticated, else one per request thread), as nng's REP socket stops reading a
/// pipe whose message no context took: a client cannot queue unbounded work or memory.
///
/// `@unchecked Sendable`: the links, the queue and the flags are under `lock`; the listener is
/// thread-safe.
final class StreamResponder: StreamLinkDelegate, @unchecked Sendable {
    typealias Handler = ReplyServer.Handler
    typealias Authenticator = ReplyServer.Authenticator

    private struct Job {
        let link: StreamLink
        let message: MessageBuffer
        let length: Int
        let routing: Int
    }

    private struct LinkState {
        let link: StreamLink
        var inFlight = 0
        var authenticated = false
        /// Reading paused at the cap; the next answer resumes it.
        var paused = false
    }

    let url: String
    private let scheme: SPFraming.Scheme
    private let usesTLS: Bool
    private let receiveLimit: Int
    private let requestThreads: Int
    private let handler: Handler
    private let authenticates: Authenticator?
    let connections: ConnectionGuard
    private var listener: OpaquePointer?
    private var acceptAio: OpaquePointer?
    private let lock = NSLock()
    private var links: [UInt32: LinkState] = [:]
    private var nextLinkID: UInt32 = 0
    private var jobs: [Job] = []
    private var jobsHead = 0
    private let jobSignal = DispatchSemaphore(value: 0)
    private var isClosed = false

    init(listen url: String, receiveLimit: Int, requestThreads: Int, tls: TLSConfiguration?, limits: ConnectionLimits,
         authenticates: Authenticator?, handler: @escaping Handler) throws(TransportError) {
        self.url = url
        guard SPFraming.Scheme.isSupported(url) else { throw .invalidAddress(url) }
        scheme = SPFraming.Scheme(url: url)
        usesTLS = tls != nil
        self.receiveLimit = receiveLimit
        self.requestThreads = requestThreads
        self.handler = handler
        self.authenticates = authenticates
        let closer = LinkCloser()
        connections = ConnectionGuard(limits: limits, requestThreads: requestThreads) { closer.close($0) }
        try check(nng_stream_listener_alloc(&listener, url), "listen on \(url)")
        do {
            if let tls {
                try check(nng_stream_listener_set_ptr(listener, NNG_OPT_TLS_CONFIG, UnsafeMutableRawPointer(tls.handle)),
                          "set TLS on \(url)")
            }
            try check(nng_stream_listener_listen(listener), "listen on \(url)")
            try check(nng_aio_alloc(&acceptAio, responderAcceptCallback, Unmanaged.passUnretained(self).toOpaque()), "allocate aio")
        } catch {
            nng_stream_listener_free(listener)
            throw error
        }
        closer.responder = self
        nng_stream_listener_accept(listener, acceptAio)
        connections.startSweeping()
    }

    deinit {
        nng_aio_free(acceptAio)
        nng_stream_listener_free(listener)
    }

    var closed: Bool {
        lock.lock()
        defer { lock.unlock() }
        return isClosed
    }

    // MARK: Accepting

    fileprivate func accepted() {
        let code = nng_aio_result(acceptAio)
        if code == Int32(NNG_ECLOSED.rawValue) || code == Int32(NNG_ECANCELED.rawValue) || closed { return }
        if code == 0, let stream = nng_aio_get_output(acceptAio, 0) {
            admit(OpaquePointer(stream))
        } else {
            // Out of descriptors or a connection aborted: try again shortly rather than spin.
            usleep(10_000)
        }
        nng_stream_listener_accept(listener, acceptAio)
    }

    private func admit(_ stream: OpaquePointer) {
        lock.lock()
        nextLinkID &+= 1
        let id = nextLinkID
        lock.unlock()
        guard let link = try? StreamLink(id: id, stream: stream, scheme: scheme, usesTLS: usesTLS, limit: receiveLimit,
                                         delegate: self) else { return }
        lock.lock()
        let shuttingDown = isClosed
        if !shuttingDown { links[id] = LinkState(link: link) }
        lock.unlock()
        guard !shuttingDown else {
            link.close()
            return
        }
        connections.arrived(id, from: link.peer)
        do {
            try link.open(greeting: SPFraming.replyProtocol)
        } catch {
            link.close()
            linkClosed(link, error)
        }
    }

    /// Closes the connections with these ids (the guard's choice).
    fileprivate func close(_ ids: [UInt32]) {
        lock.lock()
        let closing = ids.compactMap { links[$0]?.link }
        lock.unlock()
        for link in closing { link.close() }
    }

    // MARK: StreamLinkDelegate

    func link(_ link: StreamLink, greetedWith protocolNumber: UInt16) -> Bool {
        protocolNumber == SPFraming.requestProtocol
    }

    func link(_ link: StreamLink, received message: MessageBuffer, length: Int) -> Bool {
        let bytes = UnsafeRawBufferPointer(start: message.storage.baseAddress, count: length)
        guard let routing = SPFraming.routingLength(bytes) else {
            // Too short for a request id is malformed (nng closes the pipe); too many hops is dropped.
            if length < 4 { link.close() }
            return true
        }
        lock.lock()
        guard !isClosed, var state = links[link.id] else {
            lock.unlock()
            return true
        }
        state.inFlight += 1
        let keepReading = state.inFlight < (state.authenticated ? requestThreads : 1)
        state.paused = !keepReading
        links[link.id] = state
        jobs.append(Job(link: link, message: message, length: length, routing: routing))
        lock.unlock()
        jobSignal.signal()
        return keepReading
    }

    /// A server reads every connection by callback (pausing through `received`'s answer).
    func linkShouldKeepReading(_ link: StreamLink) -> Bool { true }

    func linkClosed(_ link: StreamLink, _ error: TransportError) {
        lock.lock()
        links[link.id] = nil
        // Its queued requests go with it (nng's REP dropped a closed pipe's untaken message): a
        // peer that sends and hangs up cannot pile up work or memory.
        if jobs[jobsHead...].contains(where: { $0.link === link }) {
            jobs = Array(jobs[jobsHead...].filter { $0.link !== link })
            jobsHead = 0
        }
        lock.unlock()
        connections.removed(link.id)
    }

    // MARK: Answering

    /// One request thread's loop: take a request, answer it, until the server closes.
    func serve() {
        while true {
            jobSignal.wait()
            lock.lock()
            guard !isClosed, jobsHead < jobs.count else {
                let done = isClosed
                lock.unlock()
                if done { return } else { continue }
            }
            let job = jobs[jobsHead]
            jobsHead += 1
            if jobsHead > 64, jobsHead * 2 > jobs.count {
                jobs.removeFirst(jobsHead)
                jobsHead = 0
            }
            lock.unlock()
            answer(job)
        }
    }

    private func answer(_ job: Job) {
        let id = job.link.id
        let wasAuthenticated = connections.received(on: id)
        let base = job.message.storage.baseAddress!
        let frame = UnsafeRawBufferPointer(start: base + job.routing, count: job.length - job.routing)
        let reply = handler(frame)
        let authenticated = wasAuthenticated || (authenticates?(frame, reply) ?? true)
        connections.answered(on: id, authenticated: authenticated)
        if !closed {
            var prefix = SPFraming.header(scheme, length: job.routing + reply.count)
            prefix.append(contentsOf: UnsafeRawBufferPointer(start: base, count: job.routing))
            // A client that stops reading cannot hold this thread for long (the link then closes).
            try? job.link.send(prefix: prefix, body: reply, timeoutMilliseconds: 5000)
        }
        lock.lock()
        var resume = false
        if var state = links[id] {
            state.inFlight -= 1
            if authenticated { state.authenticated = true }
            resume = state.paused && state.inFlight < (state.authenticated ? requestThreads : 1)
            if resume { state.paused = false }
            links[id] = state
        }
        lock.unlock()
        if resume { job.link.resume() }
    }

    /// Stops accepting, closes every connection and ends the request threads (after the request
    /// each is answering); queued requests are dropped, as a closed socket drops them.
    func shutdown(threads: Int) {
        lock.lock()
        isClosed = true
        let open = links.values.map(\.link)
        jobs = []
        jobsHead = 0
        lock.unlock()
        nng_stream_listener_close(listener)
        nng_aio_stop(acceptAio)
        for link in open { link.close() }
        for _ in 0 ..< threads { jobSignal.signal() }
    }
}

/// Lets the connection guard, built before the responder, close the responder's links.
private final class LinkCloser: @unchecked Sendable {
    weak var responder: StreamResponder?  // set once, before any connection arrives
    func close(_ ids: [UInt32]) { responder?.close(ids) }
}

private let responderAcceptCallback: @convention(c) (UnsafeMutableRawPointer?) -> Void = { argument in
    guard let argument else { return }
    Unmanaged<StreamResponder>.fromOpaque(argument).takeUnretainedValue().accepted()
}

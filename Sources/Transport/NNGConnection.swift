import CNNG
import Foundation
import Synchronization

/// A `Connection` to one REP server over an nng byte stream (`tcp://`, `ipc://`, `tls+tcp://`),
/// speaking the REQ side of the scalability protocols itself (`SPFraming`): any number of requests
/// share the one stream, each under its own request id, and the thread that sends a request writes
/// it itself. A reply costs one wake-up of nng's poller thread and one of the caller; nng's REQ
/// socket cost four or five thread hand-offs a message.
///
/// Like nng's REQ socket, it dials in the background, redials after a failure (50 ms, doubling to
/// 1 s), keeps requests made meanwhile until a link is up or their deadline passes, and sends
/// every unanswered request again when the link carrying it closes (a peer killed and restarted
/// gets it again: handlers are idempotent).
public final class NNGConnection: Connection, Sendable {
    private let requester: StreamRequester
    public var url: String { requester.url }

    /// Dials `url`: `tcp://`, `ipc://`, or `tls+tcp://` with `tls` (a plaintext address is refused
    /// when `tls` is given). Replies above `receiveLimit` bytes close the link (the request is then
    /// sent again, and times out).
    public init(dial url: String, tls: TLSSettings? = nil, receiveLimit: Int = 257 << 20) throws(TransportError) {
        requester = try StreamRequester(dial: url, tls: tls, receiveLimit: receiveLimit)
    }

    deinit { requester.shutdown() }

    /// Sends at once when the link is up (else when it comes up); `wait()` returns the reply.
    public func start(_ bytes: [UInt8], timeoutMilliseconds: Int) -> any PendingReply {
        requester.start(bytes, timeoutMilliseconds: timeoutMilliseconds)
    }

    /// The same exchange for `async` callers: no thread waits while it is in flight.
    public func send(_ bytes: [UInt8], timeoutMilliseconds: Int) async throws -> [UInt8] {
        try await requester.send(bytes, timeoutMilliseconds: timeoutMilliseconds)
    }
}

/// The state machine behind `NNGConnection`: its link, dialling and requests. Links and timers
/// refer to it weakly; `shutdown()` stops its dial before the connection goes.
/// `@unchecked Sendable`: the mutable state is under `state`'s lock; nng's dialer and streams are
/// thread-safe.
final class StreamRequester: StreamLinkDelegate, @unchecked Sendable {
    /// How long a new link may take to greet before it is closed and dialled again.
    static let greetingMilliseconds = 10_000
    let url: String
    private let scheme: SPFraming.Scheme
    private let receiveLimit: Int
    /// Whether a blocked caller may read the link itself. Not over TLS: nng 1.5's TLS stream
    /// answers a read's timeout by aborting the connection's TCP read, which can close the link
    /// or leave the read hanging, so TLS links are read by the callback alone (no timeouts).
    private let callersRead: Bool
    /// Kept for the dialer's life when the link is TLS.
    private let tlsConfiguration: TLSConfiguration?
    private var dialer: OpaquePointer?
    private var dialAio: OpaquePointer?
    private let state = Mutex(ClientLinkState())

    init(dial url: String, tls: TLSSettings?, receiveLimit: Int) throws(TransportError) {
        self.url = url
        scheme = SPFraming.Scheme(url: url)
        self.receiveLimit = receiveLimit
        callersRead = !url.hasPrefix("tls+")
        guard SPFraming.Scheme.isSupported(url) else { throw .invalidAddress(url) }
        try TLSSettings.check(url, tls)
        tlsConfiguration = try tls.map { settings throws(TransportError) in try TLSConfiguration(settings, server: false) }
        try check(nng_stream_dialer_alloc(&dialer, url), "dial \(url)")
        do {
            if let tlsConfiguration {
                try check(nng_stream_dialer_set_ptr(dialer, NNG_OPT_TLS_CONFIG, UnsafeMutableRawPointer(tlsConfiguration.handle)),
                          "set TLS on \(url)")
            }
            try check(nng_aio_alloc(&dialAio, connectionDialCallback, Unmanaged.passUnretained(self).toOpaque()), "allocate aio")
        } catch {
            nng_stream_dialer_free(dialer)
            throw error
        }
        dialIfNeeded(force: true)
    }

    /// Stops dialling, closes the link and fails what is outstanding; called once, by the owner.
    func shutdown() {
        let (link, requests) = state.withLock { state in
            state.isClosed = true
            defer { state.pending = [:] }
            return (state.link, Array(state.pending.values))
        }
        nng_aio_stop(dialAio)
        link?.close()
        for request in requests { request.complete(.failure(.closed)) }
    }

    deinit {
        nng_aio_free(dialAio)
        nng_stream_dialer_free(dialer)
    }

    // MARK: Requests

    func start(_ bytes: [UInt8], timeoutMilliseconds: Int) -> any PendingReply {
        let request = OutstandingRequest(body: bytes, timeoutMilliseconds: timeoutMilliseconds)
        submit(request)
        return StreamPendingReply(request: request, connection: self)
    }

    func send(_ bytes: [UInt8], timeoutMilliseconds: Int) async throws -> [UInt8] {
        try await withCheckedThrowingContinuation { continuation in
            let request = OutstandingRequest(body: bytes, timeoutMilliseconds: timeoutMilliseconds, continuation: continuation)
            submit(request)
            DispatchQueue.global().asyncAfter(deadline: .init(uptimeNanoseconds: request.deadline)) { [weak self] in
                if request.complete(.failure(request.timeout)) { self?.abandon(request) }
            }
        }
    }

    private func submit(_ request: OutstandingRequest) {
        let (link, resume): (StreamLink?, Bool) = state.withLock { state in
            guard !state.isClosed else { return (nil, false) }
            request.id = state.allocateID()
            state.pending[request.id] = request
            guard let link = state.link, state.greeted else {
                state.unsent.append(request.id)
                return (nil, false)
            }
            // An async caller cannot read for itself: the callback reads for it.
            guard request.isAsync, state.reader == .idle else { return (link, false) }
            state.reader = .callback
            return (link, true)
        }
        if state.withLock({ $0.isClosed }) { request.complete(.failure(.closed)) }
        guard let link else { return dialIfNeeded() }
        transmit(request, on: link)
        if resume { link.resume() }
    }

    /// Blocks until `request` is answered, fails or times out. The caller reads the link itself
    /// when nobody else does (the reply then costs no other thread's wake-up); otherwise it waits
    /// until the reader hands it its reply or the reading.
    func wait(_ request: OutstandingRequest) -> Result<[UInt8], TransportError> {
        state.withLock { $0.waiters.append(request.id) }
        defer {
            // A wake-up meant for this caller must not be lost with it: pass it on.
            let next = state.withLock { state -> OutstandingRequest? in
                state.waiters.removeAll { $0 == request.id }
                return state.reader == .idle ? state.nextWaiter() : nil
            }
            next?.wake()
        }
        while !request.isSettled {
            let link: StreamLink? = state.withLock { state in
                guard callersRead, let link = state.link, state.greeted, state.reader == .idle else { return nil }
                state.reader = .waiter(request.id)
                return link
            }
            if let link {
                // At least one read, even past the deadline: a reply that arrived in time may wait
                // unread in the socket while its caller waited on another connection.
                repeat {
                    guard link.readBlocking(timeoutMilliseconds: max(1, request.remainingMilliseconds - 1)) else { break }
                } while !request.isSettled && request.remainingMilliseconds > 1
                handOffReading(from: request.id, on: link)
            } else if !request.waitForWake() {
                break
            }
            if !request.isSettled, request.remainingMilliseconds <= 1 { break }
        }
        if request.complete(.failure(request.timeout)) { abandon(request) }
        return request.outcome!
    }

    /// The reader leaves: the callback takes over while an `async` caller waits, else another
    /// blocked caller is woken to read.
    private func handOffReading(from id: UInt32, on link: StreamLink) {
        let (resume, next): (Bool, OutstandingRequest?) = state.withLock { state in
            guard state.link === link, state.reader == .waiter(id) else { return (false, nil) }
            if state.asyncWaiting {
                state.reader = .callback
                return (true, nil)
            }
            state.reader = .idle
            return (false, state.nextWaiter(excluding: id))
        }
        if resume { link.resume() }
        next?.wake()
    }

    /// Writes the request on `link`. A failed send closes the link, and its closing queues every
    /// unanswered request again.
    private func transmit(_ request: OutstandingRequest, on link: StreamLink) {
        request.markSent()
        var prefix = SPFraming.header(scheme, length: request.body.count + 4)
        SPFraming.appendWord(request.id, to: &prefix)
        try? link.send(prefix: prefix, body: request.body, timeoutMilliseconds: request.remainingMilliseconds)
    }

    /// Forgets a request whose caller stopped waiting.
    fileprivate func abandon(_ request: OutstandingRequest) {
        state.withLock { state in
            if state.pending[request.id] === request { state.pending[request.id] = nil }
            state.unsent.removeAll { $0 == request.id }
        }
    }

    // MARK: Dialling

    /// Starts a dial unless one runs or a link exists; waits out the back-off unless `force`.
    private func dialIfNeeded(force: Bool = false) {
        let delay: UInt64? = state.withLock { state in
            guard !state.isClosed, state.link == nil, !state.dialing, force || !state.pending.isEmpty else { return nil }
            state.dialing = true
            let now = DispatchTime.now().uptimeNanoseconds
            return state.nextDialAt > now ? state.nextDialAt - now : 0
        }
        guard let delay else { return }
        if delay == 0 {
            nng_stream_dialer_dial(dialer, dialAio)
        } else {
            DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(delay))) { [weak self] in
                guard let self else { return }
                if self.state.withLock({ $0.isClosed }) { return }
                nng_stream_dialer_dial(self.dialer, self.dialAio)
            }
        }
    }

    fileprivate func dialed() {
        let code = nng_aio_result(dialAio)
        var link: StreamLink?
        if code == 0, let stream = nng_aio_get_output(dialAio, 0) {
            link = try? StreamLink(id: 0, stream: OpaquePointer(stream), scheme: scheme, usesTLS: !callersRead, limit: receiveLimit,
                                   delegate: self)
        }
        let keep = state.withLock { state -> Bool in
            state.dialing = false
            guard let link, !state.isClosed else {
                state.backOff()
                return false
            }
            state.link = link
            state.reader = .callback
            return true
        }
        guard let link, keep else {
            link?.close()
            retryLater()
            return
        }
        // A peer that never greets (a hung server, a stalled TLS handshake, no SP peer at all) is
        // closed and dialled again, as nng's own transport does after 10 s.
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(StreamRequester.greetingMilliseconds)) { [weak self] in
            guard let self, self.state.withLock({ $0.link === link && !$0.greeted }) else { return }
            link.close()
        }
        do {
            try link.open(greeting: SPFraming.requestProtocol)
        } catch {
            // No read started, so the link will not report its own closing.
            link.close()
            linkClosed(link, error)
        }
    }

    /// Dials again after the back-off when requests wait.
    private func retryLater() {
        DispatchQueue.global().async { [weak self] in self?.dialIfNeeded() }
    }

    // MARK: StreamLinkDelegate

    func link(_ link: StreamLink, greetedWith protocolNumber: UInt16) -> Bool {
        guard protocolNumber == SPFraming.replyProtocol else { return false }
        let queued = state.withLock { state -> [OutstandingRequest] in
            guard state.link === link else { return [] }
            state.greeted = true
            state.backoffMilliseconds = ClientLinkState.minimumBackoff
            defer { state.unsent = [] }
            return state.unsent.compactMap { state.pending[$0] }
        }
        if !queued.isEmpty {
            DispatchQueue.global().async { [self] in
                for request in queued { transmit(request, on: link) }
            }
        }
        return true
    }

    func link(_ link: StreamLink, received message: MessageBuffer, length: Int) -> Bool {
        let bytes = UnsafeRawBufferPointer(start: message.storage.baseAddress, count: length)
        guard length >= 4 else { return true }
        let id = SPFraming.word(bytes, at: 0)
        guard let request = state.withLock({ $0.pending.removeValue(forKey: id) }) else { return true }
        request.complete(.success(Array(bytes[4...])))
        return true
    }

    func linkShouldKeepReading(_ link: StreamLink) -> Bool {
        let (keep, next): (Bool, OutstandingRequest?) = state.withLock { state in
            guard state.link === link, state.reader == .callback else {
                link.pauseNow()
                return (false, nil)
            }
            if state.asyncWaiting || !callersRead { return (true, nil) }
            link.pauseNow()
            state.reader = .idle
            return (false, state.nextWaiter())
        }
        next?.wake()
        return keep
    }

    func linkClosed(_ link: StreamLink, _ error: TransportError) {
        let redial = state.withLock { state -> Bool in
            guard state.link === link else { return false }
            state.link = nil
            state.greeted = false
            state.reader = .callback
            state.backOff()
            // Every unanswered request goes out again on the next link, as nng's REQ socket does.
            state.unsent = state.pending.keys.sorted()
            return !state.pending.isEmpty
        }
        // A caller reading the closed link stops reading; blocked callers wait for the next link,
        // whose greeting hands one of them the reading.
        if redial { retryLater() }
    }
}

/// Who reads a client's link: its aio callback (while the link greets, or an `async` caller
/// waits), a caller blocked in `wait()` that reads for itself, or nobody (no read in flight).
enum LinkReader: Equatable {
    case idle, callback
    case waiter(UInt32)
}

/// The client's link and requests, under `StreamRequester.state`'s lock.
struct ClientLinkState {
    static let minimumBackoff = 50
    var link: StreamLink?
    /// The server's greeting arrived on `link`: requests may go out.
    var greeted = false
    var dialing = false
    var isClosed = false
    var backoffMilliseconds = minimumBackoff
    var nextDialAt: UInt64 = 0
    var pending: [UInt32: OutstandingRequest] = [:]
    /// Requests waiting for a link, oldest first.
    var unsent: [UInt32] = []
    /// Who reads `link` now (one reader at a time).
    var reader = LinkReader.callback
    /// Requests whose caller is blocked in `wait()`: one of them is asked to read when nobody does.
    var waiters: [UInt32] = []

    /// True when an `async` caller waits: only the callback reader can serve it.
    var asyncWaiting: Bool { pending.values.contains { $0.isAsync } }

    /// A blocked caller to ask to read, other than `excluding`.
    func nextWaiter(excluding id: UInt32? = nil) -> OutstandingRequest? {
        waiters.lazy.filter { $0 != id }.compactMap { pending[$0] }.first
    }
    private var nextID = UInt32.random(in: 0 ... 0x7FFF_FFFF)

    /// A request id with the high bit set, not in use.
    mutating func allocateID() -> UInt32 {
        repeat { nextID = (nextID &+ 1) & 0x7FFF_FFFF } while pending[nextID | 0x8000_0000] != nil
        return nextID | 0x8000_0000
    }

    mutating func backOff() {
        nextDialAt = DispatchTime.now().uptimeNanoseconds + UInt64(backoffMilliseconds) * 1_000_000
        backoffMilliseconds = min(1000, backoffMilliseconds * 2)
    }
}

/// One request until its reply, failure or deadline, whichever comes first (`complete` settles it
/// once).
final class OutstandingRequest: @unchecked Sendable {
    var id: UInt32 = 0  // set once, under the connection's lock, before the request is shared
    let body: [UInt8]
    let deadline: UInt64
    private let lock = NSLock()
    private var result: Result<[UInt8], TransportError>?
    private var wasSent = false
    /// Signalled when the request is settled, or when its waiter is asked to read.
    private let signal = DispatchSemaphore(value: 0)
    private var continuation: CheckedContinuation<[UInt8], any Error>?
    let isAsync: Bool

    init(body: [UInt8], timeoutMilliseconds: Int, continuation: CheckedContinuation<[UInt8], any Error>? = nil) {
        self.body = body
        deadline = DispatchTime.now().uptimeNanoseconds + UInt64(max(1, timeoutMilliseconds)) * 1_000_000
        self.continuation = continuation
        isAsync = continuation != nil
    }

    var remainingMilliseconds: Int {
        let now = DispatchTime.now().uptimeNanoseconds
        return deadline > now ? Int((deadline - now) / 1_000_000) + 1 : 0
    }

    func markSent() {
        lock.lock()
        wasSent = true
        lock.unlock()
    }

    /// The error of a request whose deadline passed: the send's when it never went out.
    var timeout: TransportError {
        lock.lock()
        defer { lock.unlock() }
        return .timedOut(operation: wasSent ? "receive" : "send")
    }

    var outcome: Result<[UInt8], TransportError>? {
        lock.lock()
        defer { lock.unlock() }
        return result
    }

    var isSettled: Bool { outcome != nil }

    /// Settles the request; false when it was settled already.
    @discardableResult
    func complete(_ outcome: Result<[UInt8], TransportError>) -> Bool {
        lock.lock()
        guard result == nil else {
            lock.unlock()
            return false
        }
        result = outcome
        let waiting = continuation
        continuation = nil
        lock.unlock()
        if let waiting { waiting.resume(with: outcome.mapError { $0 as any Error }) } else { signal.signal() }
        return true
    }

    /// Asks the blocked caller to look again (its turn to read).
    func wake() { signal.signal() }

    /// Blocks until settled or woken; false when the deadline passed first.
    func waitForWake() -> Bool {
        signal.wait(timeout: .init(uptimeNanoseconds: deadline)) == .success
    }
}

/// A request started by `NNGConnection.start`. Dropped without `wait()`, it is forgotten (not
/// sent again on the next link).
final class StreamPendingReply: PendingReply {
    let request: OutstandingRequest
    let connection: StreamRequester

    init(request: OutstandingRequest, connection: StreamRequester) {
        self.request = request
        self.connection = connection
    }

    func wait() -> Result<[UInt8], TransportError> { connection.wait(request) }

    deinit {
        if request.complete(.failure(.closed)) { connection.abandon(request) }
    }
}

private let connectionDialCallback: @convention(c) (UnsafeMutableRawPointer?) -> Void = { argument in
    guard let argument else { return }
    Unmanaged<StreamRequester>.fromOpaque(argument).takeUnretainedValue().dialed()
}

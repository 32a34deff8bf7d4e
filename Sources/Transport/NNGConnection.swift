import CNNG
import Foundation

/// A `Connection` over an nng REQ socket dialled to one server. Each request opens its own nng
/// context, so any number of requests may be in flight at once (one context per request, as nng
/// requires).
///
/// The dial does not block: nng connects in the background and reconnects after a restart, so a
/// dead peer costs a request its deadline, never a hang. `@unchecked Sendable`: nng sockets and
/// contexts are thread-safe and the class holds no other mutable state.
public final class NNGConnection: Connection, @unchecked Sendable {
    private var socket = nng_socket()
    public let url: String
    /// Kept for the dialer's life when the link is TLS.
    private let tlsConfiguration: TLSConfiguration?

    /// Dials `url`: `tcp://`, `ipc://`, or `tls+tcp://` with `tls` (a plaintext address is refused
    /// when `tls` is given).
    /// Replies above `receiveLimit` bytes are dropped by nng (the request then times out).
    public init(dial url: String, tls: TLSSettings? = nil, receiveLimit: Int = 257 << 20) throws(TransportError) {
        self.url = url
        try TLSSettings.check(url, tls)
        tlsConfiguration = try tls.map { settings throws(TransportError) in try TLSConfiguration(settings, server: false) }
        try check(nng_req0_open(&socket), "open request socket")
        do {
            // Handlers are idempotent, but a resend after a slow answer only doubles the work: disable it.
            try check(nng_socket_set_ms(socket, NNG_OPT_REQ_RESENDTIME, 3_600_000), "set resend time")
            try check(nng_socket_set_ms(socket, NNG_OPT_RECONNMINT, 50), "set reconnect time")
            try check(nng_socket_set_ms(socket, NNG_OPT_RECONNMAXT, 1000), "set reconnect time")
            try check(nng_socket_set_size(socket, NNG_OPT_RECVMAXSZ, receiveLimit), "set receive limit")
            var dialer = nng_dialer()
            try check(nng_dialer_create(&dialer, socket, url), "dial \(url)")
            if let tlsConfiguration {
                try check(nng_dialer_set_ptr(dialer, NNG_OPT_TLS_CONFIG, UnsafeMutableRawPointer(tlsConfiguration.handle)),
                          "set TLS on \(url)")
            }
            try check(nng_dialer_start(dialer, Int32(NNG_FLAG_NONBLOCK)), "dial \(url)")
        } catch {
            nng_close(socket)
            throw error
        }
    }

    deinit { nng_close(socket) }

    /// Starts the send on its own context; `wait()` finishes it and receives the reply.
    public func start(_ bytes: [UInt8], timeoutMilliseconds: Int) -> any PendingReply {
        NNGPendingReply(Result { () throws(TransportError) -> Exchange in
            let exchange = try Exchange(socket: socket, timeoutMilliseconds: timeoutMilliseconds)
            try exchange.startSend(bytes)
            return exchange
        })
    }

    /// The same exchange for `async` callers: the aio completes on nng's thread and resumes the
    /// continuation; no thread waits.
    public func send(_ bytes: [UInt8], timeoutMilliseconds: Int) async throws -> [UInt8] {
        try await AsyncExchange.run(socket: socket, bytes: bytes, timeoutMilliseconds: timeoutMilliseconds)
    }
}

/// A request started by `NNGConnection.start`: the rest of the exchange runs in `wait()`.
struct NNGPendingReply: PendingReply {
    let exchange: Result<Exchange, TransportError>
    init(_ exchange: Result<Exchange, TransportError>) { self.exchange = exchange }

    func wait() -> Result<[UInt8], TransportError> {
        exchange.flatMap { exchange in
            Result { () throws(TransportError) -> [UInt8] in
                try exchange.finishSend()
                exchange.startReceive()
                return try exchange.finishReceive()
            }
        }
    }
}

/// One request on its own context, driven by blocking waits.
final class Exchange {
    private var context = nng_ctx()
    private var aio: OpaquePointer?
    private let deadline: DispatchTime
    private var pending: OpaquePointer?

    init(socket: nng_socket, timeoutMilliseconds: Int) throws(TransportError) {
        deadline = .now() + .milliseconds(max(1, timeoutMilliseconds))
        try check(nng_ctx_open(&context, socket), "open context")
        let code = nng_aio_alloc(&aio, nil, nil)
        if code != 0 { nng_ctx_close(context) }
        try check(code, "allocate aio")
    }

    deinit {
        if let pending { nng_msg_free(pending) }
        nng_aio_free(aio)
        nng_ctx_close(context)
    }

    private func remainingMilliseconds() -> Int32 {
        let now = DispatchTime.now().uptimeNanoseconds
        let end = deadline.uptimeNanoseconds
        return end > now ? Int32(clamping: (end - now) / 1_000_000 + 1) : 1
    }

    func startSend(_ bytes: [UInt8]) throws(TransportError) {
        let message = try makeMessage(bytes)
        pending = message
        nng_aio_set_timeout(aio, remainingMilliseconds())
        nng_aio_set_msg(aio, message)
        nng_ctx_send(context, aio)
    }

    func finishSend() throws(TransportError) {
        nng_aio_wait(aio)
        let code = nng_aio_result(aio)
        if code == 0 { pending = nil }  // nng owns it now
        try check(code, "send")
    }

    func startReceive() {
        nng_aio_set_timeout(aio, remainingMilliseconds())
        nng_ctx_recv(context, aio)
    }

    func finishReceive() throws(TransportError) -> [UInt8] {
        nng_aio_wait(aio)
        try check(nng_aio_result(aio), "receive")
        guard let message = nng_aio_get_msg(aio) else { throw .closed }
        return consumeMessage(message)
    }
}

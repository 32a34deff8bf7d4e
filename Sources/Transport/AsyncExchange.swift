import CNNG
import Dispatch

/// One request driven by nng's aio callbacks and bridged to `async`: send, then receive on the
/// same context, then resume the continuation. The callback only advances the state machine;
/// freeing the aio happens off nng's thread (an aio must not be freed from its own callback).
///
/// `@unchecked Sendable`: after `start`, only the aio callback touches the state, and nng runs
/// one callback of an aio at a time.
final class AsyncExchange: @unchecked Sendable {
    private enum Stage { case sending, receiving }

    private var context = nng_ctx()
    private var aio: OpaquePointer?
    private var stage = Stage.sending
    private var continuation: CheckedContinuation<[UInt8], any Error>?
    private var pending: OpaquePointer?
    private let deadline: DispatchTime

    private init(timeoutMilliseconds: Int) {
        deadline = .now() + .milliseconds(max(1, timeoutMilliseconds))
    }

    static func run(socket: nng_socket, bytes: [UInt8], timeoutMilliseconds: Int) async throws -> [UInt8] {
        let message = try makeMessage(bytes)
        return try await withCheckedThrowingContinuation { continuation in
            let exchange = AsyncExchange(timeoutMilliseconds: timeoutMilliseconds)
            exchange.continuation = continuation
            exchange.pending = message
            exchange.start(socket: socket)
        }
    }

    private func start(socket: nng_socket) {
        if let failure = open(socket: socket) {
            finish(.failure(failure))
            return
        }
        nng_aio_set_timeout(aio, remainingMilliseconds())
        nng_aio_set_msg(aio, pending)
        nng_ctx_send(context, aio)
    }

    private func open(socket: nng_socket) -> TransportError? {
        do {
            try check(nng_ctx_open(&context, socket), "open context")
            let retained = Unmanaged.passRetained(self).toOpaque()
            let code = nng_aio_alloc(&aio, asyncExchangeCallback, retained)
            if code != 0 { Unmanaged<AsyncExchange>.fromOpaque(retained).release() }
            try check(code, "allocate aio")
            return nil
        } catch {
            return error
        }
    }

    private func remainingMilliseconds() -> Int32 {
        let now = DispatchTime.now().uptimeNanoseconds, end = deadline.uptimeNanoseconds
        return end > now ? Int32(clamping: (end - now) / 1_000_000 + 1) : 1
    }

    fileprivate func advance() {
        let code = nng_aio_result(aio)
        switch stage {
        case .sending:
            do throws(TransportError) {
                if code == 0 { pending = nil }
                try check(code, "send")
                stage = .receiving
                nng_aio_set_timeout(aio, remainingMilliseconds())
                nng_ctx_recv(context, aio)
            } catch {
                finish(.failure(error))
            }
        case .receiving:
            do throws(TransportError) {
                try check(code, "receive")
                guard let message = nng_aio_get_msg(aio) else { throw TransportError.closed }
                finish(.success(consumeMessage(message)))
            } catch {
                finish(.failure(error))
            }
        }
    }

    private func finish(_ result: Result<[UInt8], TransportError>) {
        continuation?.resume(with: result.mapError { $0 as any Error })
        continuation = nil
        let release = UncheckedHandles(aio: aio, context: context, pending: pending,
                                       owner: aio == nil ? nil : Unmanaged.passUnretained(self))
        DispatchQueue.global().async {
            if let pending = release.pending { nng_msg_free(pending) }
            if let aio = release.aio { nng_aio_free(aio) }
            if release.context.id != 0 { nng_ctx_close(release.context) }
            release.owner?.release()
        }
    }
}

/// Handles carried to the clean-up queue; used there alone.
private struct UncheckedHandles: @unchecked Sendable {
    let aio: OpaquePointer?
    let context: nng_ctx
    let pending: OpaquePointer?
    let owner: Unmanaged<AsyncExchange>?
}

private let asyncExchangeCallback: @convention(c) (UnsafeMutableRawPointer?) -> Void = { argument in
    guard let argument else { return }
    Unmanaged<AsyncExchange>.fromOpaque(argument).takeUnretainedValue().advance()
}

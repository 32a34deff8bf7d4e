import CNNG
import Synchronization

/// Caps the connections (nng pipes) a listening socket keeps: past `maximum`, a new connection is
/// closed as it arrives, so a flood of peers cannot hold unbounded sockets and receive buffers.
final class ConnectionLimit: Sendable {
    let maximum: Int
    private let open = Mutex<Set<UInt32>>([])

    init(maximum: Int) { self.maximum = max(1, maximum) }

    var count: Int { open.withLock { $0.count } }

    /// Registers the callbacks on `socket`; the limit must outlive the socket.
    func install(on socket: nng_socket) throws(TransportError) {
        let context = Unmanaged.passUnretained(self).toOpaque()
        for event in [NNG_PIPE_EV_ADD_PRE, NNG_PIPE_EV_ADD_POST, NNG_PIPE_EV_REM_POST] {
            try check(nng_pipe_notify(socket, event, connectionEvent, context), "watch connections")
        }
    }

    fileprivate func handle(_ pipe: nng_pipe, _ event: nng_pipe_ev) {
        switch event {
        case NNG_PIPE_EV_ADD_PRE:
            if count >= maximum { nng_pipe_close(pipe) }
        case NNG_PIPE_EV_ADD_POST:
            open.withLock { _ = $0.insert(pipe.id) }
        case NNG_PIPE_EV_REM_POST:
            open.withLock { _ = $0.remove(pipe.id) }
        default:
            break
        }
    }
}

private let connectionEvent: @convention(c) (nng_pipe, nng_pipe_ev, UnsafeMutableRawPointer?) -> Void = { pipe, event, context in
    guard let context else { return }
    Unmanaged<ConnectionLimit>.fromOpaque(context).takeUnretainedValue().handle(pipe, event)
}

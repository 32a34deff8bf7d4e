import CNNG
import Foundation
import Synchronization

/// Keeps the connections (nng pipes) of one listening socket within `ConnectionLimits`: it records
/// each pipe as it arrives (`NNG_PIPE_EV_ADD_PRE`, with its peer address) and closes the pipes
/// `ConnectionTable` picks, then, from one sweeper thread waking a few times a second, the
/// strangers that outlived the grace period. An idle peer costs a table entry and nothing else:
/// no timer, no thread, no buffer of its own.
///
/// The table's lock is the only lock here; pipes are closed after it is released (closing one
/// runs nng's callbacks, which take it again).
final class ConnectionGuard: Sendable {
    let limits: ConnectionLimits
    private let table: Mutex<ConnectionTable>
    /// Milliseconds of a monotonic clock; read only under the table's lock, where it is compared.
    private let clock: @Sendable () -> UInt64
    /// The server's request threads: while all of them answer, the grace clock pauses.
    private let requestThreads: Int
    private let stopSignal = DispatchSemaphore(value: 0)
    private let sweeperDone = DispatchGroup()

    init(limits: ConnectionLimits, requestThreads: Int,
         clock: @escaping @Sendable () -> UInt64 = { DispatchTime.now().uptimeNanoseconds / 1_000_000 }) {
        self.limits = limits
        self.requestThreads = max(1, requestThreads)
        self.clock = clock
        table = Mutex(ConnectionTable(limits: limits))
    }

    /// Connections open now, authenticated or not.
    var count: Int { table.withLock { $0.entries.count } }

    var counts: (authenticated: Int, unauthenticated: Int) {
        table.withLock { ($0.authenticatedCount, $0.strangerCount) }
    }

    /// Registers the callbacks on `socket`; the limit must outlive the socket.
    func install(on socket: nng_socket) throws(TransportError) {
        let context = Unmanaged.passUnretained(self).toOpaque()
        for event in [NNG_PIPE_EV_ADD_PRE, NNG_PIPE_EV_REM_POST] {
            try check(nng_pipe_notify(socket, event, connectionEvent, context), "watch connections")
        }
    }

    /// Starts the sweeper: one thread that wakes every quarter of the grace period (at most every
    /// 0.5 s) and closes the strangers past it. `stopSweeping` ends it.
    func startSweeping() {
        let period = max(10, min(500, limits.graceMilliseconds / 4))
        sweeperDone.enter()
        let thread = Thread { [self] in
            while stopSignal.wait(timeout: .now() + .milliseconds(period)) == .timedOut {
                close(table.withLock { $0.expired(now: clock(), requestThreads: requestThreads) })
            }
            sweeperDone.leave()
        }
        thread.name = "sightline-idle-sweep"
        thread.stackSize = 256 << 10
        thread.start()
    }

    /// Stops the sweeper and waits for it; call once.
    func stopSweeping() {
        stopSignal.signal()
        sweeperDone.wait()
    }

    /// A frame arrived on `pipe`; returns whether the pipe is already authenticated.
    func received(on pipe: UInt32) -> Bool {
        table.withLock { $0.received(on: pipe) }
    }

    /// The frame was answered; `authenticated`: it passed the token check.
    func answered(on pipe: UInt32, authenticated: Bool) {
        table.withLock { $0.answered(on: pipe, authenticated: authenticated) }
    }

    fileprivate func handle(_ pipe: nng_pipe, _ event: nng_pipe_ev) {
        switch event {
        case NNG_PIPE_EV_ADD_PRE:
            // Closing the new pipe here keeps it from starting; closing another one is safe too
            // (nng holds no socket lock while it runs this callback).
            let peer = PeerAddress(of: pipe)
            close(table.withLock { $0.arrive(pipe.id, from: peer, now: clock()) })
        case NNG_PIPE_EV_REM_POST:
            table.withLock { $0.remove(pipe.id) }
        default:
            break
        }
    }

    private func close(_ pipes: [UInt32]) {
        for pipe in pipes { nng_pipe_close(nng_pipe(id: pipe)) }
    }
}

private let connectionEvent: @convention(c) (nng_pipe, nng_pipe_ev, UnsafeMutableRawPointer?) -> Void = { pipe, event, context in
    guard let context else { return }
    Unmanaged<ConnectionGuard>.fromOpaque(context).takeUnretainedValue().handle(pipe, event)
}

extension PeerAddress {
    /// The remote address of a tcp or tls+tcp pipe; nil for ipc and inproc pipes.
    init?(of pipe: nng_pipe) {
        var address = nng_sockaddr()
        guard nng_pipe_get_addr(pipe, NNG_OPT_REMADDR, &address) == 0 else { return nil }
        switch UInt32(address.s_family) {
        case NNG_AF_INET.rawValue:
            self = .ipv4(UInt32(bigEndian: address.s_in.sa_addr))  // nng keeps it in network order
        case NNG_AF_INET6.rawValue:
            self.init(ipv6: withUnsafeBytes(of: address.s_in6.sa_addr) { Array($0) })
        default:
            return nil
        }
    }
}

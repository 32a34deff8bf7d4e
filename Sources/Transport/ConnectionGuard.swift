import Foundation
import Synchronization

/// Keeps the connections of one listener within `ConnectionLimits`: it records each connection as
/// it arrives (with its peer address) and closes the connections `ConnectionTable` picks, then,
/// from one sweeper thread waking a few times a second, the strangers that outlived the grace
/// period. Apart from the link's read buffer, an idle peer costs a table entry: no timer, no
/// thread.
///
/// The table's lock is the only lock here; connections are closed after it is released (closing
/// one reports back here, which takes it again).
final class ConnectionGuard: Sendable {
    let limits: ConnectionLimits
    private let table: Mutex<ConnectionTable>
    /// Milliseconds of a monotonic clock; read only under the table's lock, where it is compared.
    private let clock: @Sendable () -> UInt64
    /// The server's request threads: while all of them answer, the grace clock pauses.
    private let requestThreads: Int
    private let stopSignal = DispatchSemaphore(value: 0)
    private let sweeperDone = DispatchGroup()
    /// Closes the connections with these ids (the owner then reports them `removed`).
    private let closeConnections: @Sendable ([UInt32]) -> Void

    init(limits: ConnectionLimits, requestThreads: Int,
         clock: @escaping @Sendable () -> UInt64 = { DispatchTime.now().uptimeNanoseconds / 1_000_000 },
         close: @escaping @Sendable ([UInt32]) -> Void) {
        self.limits = limits
        closeConnections = close
        self.requestThreads = max(1, requestThreads)
        self.clock = clock
        table = Mutex(ConnectionTable(limits: limits))
    }

    /// Connections open now, authenticated or not.
    var count: Int { table.withLock { $0.entries.count } }

    var counts: (authenticated: Int, unauthenticated: Int) {
        table.withLock { ($0.authenticatedCount, $0.strangerCount) }
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

    /// A frame arrived on `connection`; returns whether the connection is already authenticated.
    func received(on connection: UInt32) -> Bool {
        table.withLock { $0.received(on: connection) }
    }

    /// The frame was answered; `authenticated`: it passed the token check.
    func answered(on connection: UInt32, authenticated: Bool) {
        table.withLock { $0.answered(on: connection, authenticated: authenticated) }
    }

    /// A connection arrived from `peer`; closes whatever the caps say must go (maybe it).
    func arrived(_ connection: UInt32, from peer: PeerAddress?) {
        close(table.withLock { $0.arrive(connection, from: peer, now: clock()) })
    }

    /// A connection closed (by either side).
    func removed(_ connection: UInt32) {
        table.withLock { $0.remove(connection) }
    }

    private func close(_ connections: [UInt32]) {
        if !connections.isEmpty { closeConnections(connections) }
    }
}

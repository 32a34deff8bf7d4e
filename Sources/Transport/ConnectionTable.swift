/// The connections of one listening socket and the decisions about them, as a state machine: no
/// locks, no clock, no nng. Callers pass the time (milliseconds of a monotonic clock) and close the
/// connections a method returns; `ConnectionGuard` does both under its lock.
///
/// A connection arrives as a stranger; it becomes authenticated when a frame it sent passed the
/// token check (`answered(on:authenticated:)`). Strangers are bounded per address and globally
/// (`ConnectionLimits`), and closed once they are older than the grace period.
///
/// - Complexity: `arrive` O(1), O(n) when it must evict; `expired` O(n); the others O(1), where n
///   is the number of open connections (at most the two caps added up, plus frames in flight).
struct ConnectionTable {
    struct Entry: Equatable {
        var peer: PeerAddress?
        /// When it connected, on the caller's clock.
        var arrivedAt: UInt64
        /// Arrival rank: the oldest has the lowest (times may repeat, ranks do not).
        var order: UInt64
        var authenticated = false
        /// Frames of this connection being answered now: such a connection is neither evicted nor
        /// expired (its frame may be the one that authenticates it).
        var answering = 0
    }

    let limits: ConnectionLimits
    private(set) var entries: [UInt32: Entry] = [:]
    private(set) var strangersByPeer: [PeerAddress?: Int] = [:]
    private(set) var strangerCount = 0
    private(set) var authenticatedCount = 0
    /// Frames being answered over all connections (≈ request threads busy).
    private(set) var answering = 0
    private var nextOrder: UInt64 = 0

    init(limits: ConnectionLimits) { self.limits = limits }

    /// Records a new connection and returns the connections to close so that the caps hold: the
    /// oldest idle stranger of its own address when that address is at its cap, then, while the
    /// global cap is exceeded, the oldest idle stranger of the address holding the most. The new
    /// connection itself is in the list only when every other stranger it could displace is busy.
    mutating func arrive(_ pipe: UInt32, from peer: PeerAddress?, now: UInt64) -> [UInt32] {
        if entries[pipe] != nil { remove(pipe) }  // an id nng reused before we saw its removal
        entries[pipe] = Entry(peer: peer, arrivedAt: now, order: nextOrder)
        nextOrder &+= 1
        strangerCount += 1
        strangersByPeer[peer, default: 0] += 1
        var closing: [UInt32] = []
        if peer != nil, let count = strangersByPeer[peer], count > limits.maxUnauthenticatedPerPeer {
            let victim = oldestIdleStranger(where: { $0.peer == peer }) ?? pipe
            remove(victim)
            closing.append(victim)
        }
        while strangerCount > limits.maxUnauthenticated, entries[pipe] != nil {
            let victim = idleStrangerToEvict() ?? pipe
            remove(victim)
            closing.append(victim)
        }
        return closing
    }

    /// A frame from `pipe` was received and is about to be answered. Returns whether the connection
    /// is already authenticated (then the frame need not be checked for it).
    mutating func received(on pipe: UInt32) -> Bool {
        answering += 1
        guard entries[pipe] != nil else { return true }  // being closed: nothing to prove
        entries[pipe]?.answering += 1
        return entries[pipe]?.authenticated ?? true
    }

    /// The frame `received(on:)` announced was answered; `authenticated` says whether it passed
    /// the token check. An authenticated frame promotes a stranger while `maxAuthenticated` allows.
    mutating func answered(on pipe: UInt32, authenticated: Bool) {
        answering = max(0, answering - 1)
        guard var entry = entries[pipe] else { return }
        entry.answering = max(0, entry.answering - 1)
        if authenticated, !entry.authenticated, authenticatedCount < limits.maxAuthenticated {
            entry.authenticated = true
            authenticatedCount += 1
            dropStranger(of: entry.peer)
        }
        entries[pipe] = entry
    }

    /// Forgets a connection nng closed (or that this table chose to close).
    mutating func remove(_ pipe: UInt32) {
        guard let entry = entries.removeValue(forKey: pipe) else { return }
        if entry.authenticated {
            authenticatedCount -= 1
        } else {
            dropStranger(of: entry.peer)
        }
    }

    /// Removes and returns the strangers older than the grace period that are not being answered.
    /// Returns none while `requestThreads` frames are being answered: then frames wait inside nng,
    /// where their connections cannot be told from idle ones.
    mutating func expired(now: UInt64, requestThreads: Int) -> [UInt32] {
        guard answering < requestThreads else { return [] }
        let grace = UInt64(limits.graceMilliseconds)
        let stale = entries.filter { _, entry in
            !entry.authenticated && entry.answering == 0 && (now >= entry.arrivedAt ? now - entry.arrivedAt : 0) >= grace
        }.keys
        for pipe in stale { remove(pipe) }
        return Array(stale)
    }

    private mutating func dropStranger(of peer: PeerAddress?) {
        strangerCount -= 1
        let left = (strangersByPeer[peer] ?? 1) - 1
        strangersByPeer[peer] = left > 0 ? left : nil
    }

    private func oldestIdleStranger(where matches: (Entry) -> Bool) -> UInt32? {
        entries.filter { !$0.value.authenticated && $0.value.answering == 0 && matches($0.value) }
            .min { $0.value.order < $1.value.order }?.key
    }

    /// The oldest idle stranger of the address with the most strangers (ties: the oldest overall).
    private func idleStrangerToEvict() -> UInt32? {
        var best: (pipe: UInt32, held: Int, order: UInt64)?
        for (pipe, entry) in entries where !entry.authenticated && entry.answering == 0 {
            let held = strangersByPeer[entry.peer] ?? 0
            if let current = best, held < current.held || (held == current.held && entry.order > current.order) { continue }
            best = (pipe, held, entry.order)
        }
        return best?.pipe
    }

    /// Every count matches the entries; no cap is exceeded. For tests.
    func checkInvariants() {
        let strangers = entries.values.filter { !$0.authenticated }
        precondition(strangers.count == strangerCount, "stranger count \(strangerCount) ≠ \(strangers.count) entries")
        precondition(entries.count - strangers.count == authenticatedCount, "authenticated count drifted")
        precondition(authenticatedCount <= limits.maxAuthenticated, "authenticated cap exceeded")
        precondition(strangerCount <= limits.maxUnauthenticated, "stranger cap exceeded")
        var byPeer: [PeerAddress?: Int] = [:]
        for entry in strangers { byPeer[entry.peer, default: 0] += 1 }
        precondition(byPeer == strangersByPeer, "per-peer counts drifted")
        for (peer, count) in byPeer where peer != nil {
            precondition(count <= limits.maxUnauthenticatedPerPeer, "per-peer cap exceeded for \(String(describing: peer))")
        }
        precondition(entries.values.map(\.answering).reduce(0, +) <= answering, "answering count below the entries'")
    }
}

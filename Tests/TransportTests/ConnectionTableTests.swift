import Testing
@testable import Transport

/// The connection table as a state machine: time is a number the test advances, no sockets.
@Suite struct ConnectionTableTests {
    static let alice = PeerAddress.ipv4(0x0A00_0001)
    static let bob = PeerAddress.ipv4(0x0A00_0002)
    static let carol = PeerAddress.ipv4(0x0A00_0003)

    static func table(strangers: Int = 8, perPeer: Int = 4, authenticated: Int = 16, grace: Int = 3000) -> ConnectionTable {
        ConnectionTable(limits: ConnectionLimits(maxUnauthenticated: strangers, maxUnauthenticatedPerPeer: perPeer,
                                                 maxAuthenticated: authenticated, graceMilliseconds: grace))
    }

    @Test func strangersExpireAfterTheGracePeriodAndAuthenticatedPeersStay() {
        var table = Self.table()
        #expect(table.arrive(1, from: Self.alice, now: 1000) == [])
        #expect(table.arrive(2, from: Self.bob, now: 1000) == [])
        #expect(table.arrive(3, from: Self.carol, now: 2500) == [])
        #expect(table.received(on: 2) == false)
        table.answered(on: 2, authenticated: true)
        #expect(table.received(on: 2) == true)
        table.answered(on: 2, authenticated: true)
        #expect(table.expired(now: 3999, requestThreads: 4) == [])
        #expect(table.expired(now: 4000, requestThreads: 4) == [1])
        #expect(table.expired(now: 5499, requestThreads: 4) == [])
        #expect(table.expired(now: 5500, requestThreads: 4) == [3])
        #expect(table.expired(now: 1_000_000, requestThreads: 4) == [])
        #expect(table.entries.keys.sorted() == [2])
        table.checkInvariants()
    }

    /// A clock read outside the lock may be behind the arrival time: no trap, nothing expires.
    @Test func aClockBehindTheArrivalExpiresNothing() {
        var table = Self.table()
        _ = table.arrive(1, from: Self.alice, now: 10_000)
        #expect(table.expired(now: 0, requestThreads: 1) == [])
    }

    /// A frame refused for its token proves nothing; a frame being answered holds its connection
    /// open past the grace period (a slow first request is not cut off), and so does a server whose
    /// request threads are all busy (frames may be waiting inside nng).
    @Test func onlyAuthenticatedFramesProveAndBusyConnectionsWait() {
        var table = Self.table()
        _ = table.arrive(1, from: Self.alice, now: 0)
        _ = table.arrive(2, from: Self.bob, now: 0)
        _ = table.received(on: 1)
        table.answered(on: 1, authenticated: false)
        _ = table.received(on: 2)  // still being answered
        #expect(table.expired(now: 3000, requestThreads: 1) == [])  // the only thread is busy
        #expect(table.expired(now: 3000, requestThreads: 2) == [1])
        table.answered(on: 2, authenticated: true)
        #expect(table.expired(now: 9000, requestThreads: 2) == [])
        #expect(table.authenticatedCount == 1)
        #expect(table.strangerCount == 0)
        table.checkInvariants()
    }

    /// Past the per-address cap, the address's oldest idle stranger makes room: a newcomer always
    /// gets in, other addresses are untouched.
    @Test func theCapPerAddressClosesThatAddressesOldestStranger() {
        var table = Self.table(perPeer: 3)
        _ = table.arrive(100, from: Self.bob, now: 0)
        for pipe in UInt32(1) ... 3 { #expect(table.arrive(pipe, from: Self.alice, now: UInt64(pipe)) == []) }
        #expect(table.arrive(4, from: Self.alice, now: 4) == [1])
        _ = table.received(on: 2)  // busy: skipped
        #expect(table.arrive(5, from: Self.alice, now: 5) == [3])
        #expect(table.strangersByPeer[Self.alice] == 3)
        #expect(table.strangersByPeer[Self.bob] == 1)
        table.checkInvariants()
        // Every stranger of the address busy: the newcomer is the one refused.
        _ = table.received(on: 4)
        _ = table.received(on: 5)
        #expect(table.arrive(6, from: Self.alice, now: 6) == [6])
        table.checkInvariants()
    }

    /// Past the global cap, the address holding the most strangers loses its oldest; authenticated
    /// connections neither count nor are ever chosen.
    @Test func theGlobalCapEvictsFromTheLargestHolderAndNeverAnAuthenticatedPeer() {
        var table = Self.table(strangers: 4, perPeer: 4)
        _ = table.arrive(50, from: Self.carol, now: 0)
        _ = table.received(on: 50)
        table.answered(on: 50, authenticated: true)
        #expect(table.arrive(1, from: Self.bob, now: 1) == [])
        for pipe in UInt32(2) ... 4 { #expect(table.arrive(pipe, from: Self.alice, now: UInt64(pipe)) == []) }
        // Alice holds 3 of 4: her oldest (2) goes, not Bob's older one.
        #expect(table.arrive(5, from: Self.carol, now: 5) == [2])
        #expect(table.arrive(6, from: Self.carol, now: 6) == [3])
        // Bob and Carol tie at two each: the older of their strangers (Bob's 1) goes.
        #expect(table.arrive(7, from: Self.bob, now: 7) == [1])
        #expect(table.entries[50]?.authenticated == true)
        #expect(table.strangerCount == 4)
        table.checkInvariants()
    }

    /// Past `maxAuthenticated`, an authenticated frame leaves its connection a stranger.
    @Test func authenticatedConnectionsHaveTheirOwnCap() {
        var table = Self.table(authenticated: 1)
        _ = table.arrive(1, from: Self.alice, now: 0)
        _ = table.arrive(2, from: Self.alice, now: 0)
        for pipe in UInt32(1) ... 2 {
            _ = table.received(on: pipe)
            table.answered(on: pipe, authenticated: true)
        }
        #expect(table.authenticatedCount == 1)
        #expect(table.expired(now: 3000, requestThreads: 1) == [2])
        table.remove(1)
        #expect(table.entries.isEmpty)
        table.checkInvariants()
    }

    /// Removal by nng after the table already closed a connection, and frames of connections it
    /// no longer knows, change nothing.
    @Test func lateEventsAreHarmless() {
        var table = Self.table(perPeer: 1)
        _ = table.arrive(1, from: Self.alice, now: 0)
        #expect(table.arrive(2, from: Self.alice, now: 1) == [1])
        table.remove(1)
        #expect(table.received(on: 1) == true)
        table.answered(on: 1, authenticated: true)
        #expect(table.authenticatedCount == 0)
        #expect(table.answering == 0)
        table.checkInvariants()
    }

    /// Seeded random events against the invariants.
    @Test(arguments: [1, 2, 3]) func randomEventsKeepTheInvariants(seed: UInt64) {
        var random = SplitMix(seed: seed)
        var table = Self.table(strangers: 6, perPeer: 3, authenticated: 4, grace: 100)
        var now: UInt64 = 0
        var open: Set<UInt32> = []
        var answering: [UInt32] = []
        for step in UInt32(1) ... 2000 {
            now += random.next() % 20
            switch random.next() % 5 {
            case 0, 1:
                let peer: PeerAddress? = [Self.alice, Self.bob, Self.carol, nil][Int(random.next() % 4)]
                open.insert(step)
                open.subtract(table.arrive(step, from: peer, now: now))
            case 2:
                if let pipe = open.randomElement(using: &random) {
                    _ = table.received(on: pipe)
                    answering.append(pipe)
                }
            case 3:
                if !answering.isEmpty {
                    table.answered(on: answering.removeFirst(), authenticated: random.next() % 2 == 0)
                }
            default:
                if random.next() % 3 == 0, let pipe = open.randomElement(using: &random) {
                    open.remove(pipe)
                    table.remove(pipe)
                } else {
                    open.subtract(table.expired(now: now, requestThreads: 4))
                }
            }
            table.checkInvariants()
            #expect(Set(table.entries.keys) == open)
        }
    }
}

/// SplitMix64: a small seeded generator for the tests.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

import Foundation
import Testing
@testable import Transport

/// A `ReplyServer` on tcp loopback with a short grace period, against peers made by hand. Its
/// authenticator accepts frames whose first byte is 1 (standing in for a matching token).
@Suite(.serialized) struct ConnectionLimitTests {
    static func server(port: Int, limits: ConnectionLimits) throws -> ReplyServer {
        let server = try ReplyServer(listen: "tcp://127.0.0.1:\(port)", receiveLimit: 1 << 16, workerCount: 2, limits: limits,
                                     authenticates: { frame, _ in frame.first == 1 }) { Array($0) }
        server.start()
        return server
    }

    /// Waits until `condition` holds (at most `timeout` seconds).
    static func eventually(_ timeout: Double = 3, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while !condition() {
            if Date() > deadline { return false }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return true
    }

    /// A peer that only says the SP header, and one whose frame was refused, are closed after the
    /// grace period; one whose frame authenticated stays.
    @Test func strangersAreClosedAfterTheGracePeriod() throws {
        let port = freeLoopbackPort()
        let server = try Self.server(port: port, limits: ConnectionLimits(graceMilliseconds: 300))
        defer { server.close() }
        let idle = try RawPeer(port: port)
        let refused = try RawPeer(port: port)
        let proven = try RawPeer(port: port)
        try refused.sendRequest([2, 7])
        try proven.sendRequest([1, 7])
        #expect(refused.receiveReply(timeout: 2) == [2, 7])
        #expect(proven.receiveReply(timeout: 2) == [1, 7])
        #expect(server.connectionCounts.authenticated == 1)
        let started = Date()
        #expect(idle.isClosedByServer(within: 3))
        #expect(refused.isClosedByServer(within: 3))
        #expect(Date().timeIntervalSince(started) > 0.1, "closed before the grace period")
        #expect(!proven.isClosedByServer(within: 0.6))
        try proven.sendRequest([5], id: 2)
        #expect(proven.receiveReply(timeout: 2) == [5])
        #expect(server.connectionCounts == (authenticated: 1, unauthenticated: 0))
    }

    /// Past the cap of one address, that address's oldest strangers are closed at once (long
    /// before the grace period); another address is untouched.
    @Test func theCapPerAddressClosesThatAddressesOldest() throws {
        let port = freeLoopbackPort()
        let server = try Self.server(port: port, limits: ConnectionLimits(maxUnauthenticatedPerPeer: 3, graceMilliseconds: 60_000))
        defer { server.close() }
        let other = try RawPeer(port: port, from: "127.0.0.3")
        var flood: [RawPeer] = []
        for _ in 0 ..< 8 { flood.append(try RawPeer(port: port, from: "127.0.0.2")) }
        #expect(Self.eventually { server.connectionCount == 4 }, "\(server.connectionCount) connections")
        // nng finishes the SP handshakes in any order: count, do not name, the ones kept.
        #expect(Self.eventually { flood.filter { $0.isClosedByServer(within: 0.01) }.count == 5 })
        #expect(flood.filter { !$0.isClosedByServer(within: 0) }.count == 3)
        #expect(!other.isClosedByServer(within: 0.05))
        try other.sendRequest([1])
        #expect(other.receiveReply(timeout: 2) == [1])
    }

    /// Authenticated peers neither count against the stranger cap nor make room for strangers:
    /// a flood far past it leaves an nng client's link untouched and a newcomer still gets in.
    @Test func strangersCannotDisplaceAuthenticatedPeers() throws {
        let port = freeLoopbackPort()
        let server = try Self.server(port: port, limits: ConnectionLimits(maxUnauthenticated: 4, graceMilliseconds: 60_000))
        defer { server.close() }
        let client = try NNGConnection(dial: "tcp://127.0.0.1:\(port)")
        #expect(try client.request([1, 1], timeoutMilliseconds: 2000) == [1, 1])
        var flood: [RawPeer] = []
        for index in 0 ..< 40 { flood.append(try RawPeer(port: port, from: "127.0.0.\(2 + index % 8)")) }
        // Every handshake done: 36 of the 40 were closed to keep four.
        #expect(Self.eventually { flood.filter { $0.isClosedByServer(within: 0) }.count == 36 })
        #expect(server.connectionCounts.unauthenticated == 4)
        #expect(server.connectionCounts.authenticated == 1)
        #expect(try client.request([1, 2], timeoutMilliseconds: 2000) == [1, 2])
        // A newcomer displaces a stranger (not the client) and authenticates.
        let newcomer = try NNGConnection(dial: "tcp://127.0.0.1:\(port)")
        #expect(try newcomer.request([1, 3], timeoutMilliseconds: 2000) == [1, 3])
        #expect(server.connectionCounts == (authenticated: 2, unauthenticated: 3))
        #expect(flood.filter { !$0.isClosedByServer(within: 0) }.count == 3)
    }

    /// Over ipc (no peer address) the grace period still applies; a server without an
    /// authenticator takes any answered frame as proof.
    @Test func ipcStrangersExpireAndAnyFrameProvesWithoutAnAuthenticator() throws {
        let address = "ipc:///tmp/sightline-limit-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        let server = try ReplyServer(listen: address, receiveLimit: 1 << 16, workerCount: 2,
                                     limits: ConnectionLimits(graceMilliseconds: 200)) { Array($0) }
        server.start()
        defer { server.close() }
        let client = try NNGConnection(dial: address)
        #expect(try client.request([9], timeoutMilliseconds: 2000) == [9])
        let idle = try NNGConnection(dial: address)
        #expect(Self.eventually { server.connectionCount == 2 })
        Thread.sleep(forTimeInterval: 0.5)
        // The idle dialer's pipe was closed (and redialled): the client's stays authenticated.
        #expect(server.connectionCounts.authenticated == 1)
        #expect(try client.request([8], timeoutMilliseconds: 2000) == [8])
        #expect(try idle.request([7], timeoutMilliseconds: 2000) == [7])
        #expect(Self.eventually { server.connectionCounts.authenticated == 2 })
    }
}

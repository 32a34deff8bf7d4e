import ClusterClient
import ClusterModel
import Foundation
@testable import ServiceSupport
import Synchronization
import Testing
import Wire

/// Peers that connect, say the 8-byte SP header and then nothing, against real processes. Before,
/// 70 of them filled the connection cap and every legitimate call timed out for as long as they
/// stayed; now a connection without an authenticated frame is closed after the grace period
/// (3 s), strangers are capped per address (32) as well as globally (64), and a newcomer or an
/// authenticated peer is never the one kept out.
@Suite(.serialized) struct IdleConnectionTests {
    static let graceSeconds = 3.0

    static func port(of url: String) -> Int { Int(url.split(separator: ":").last ?? "") ?? 0 }

    static func cluster(_ name: String) throws -> LocalCluster {
        try LocalCluster(name: name, workerCount: 2, index: (16, 16, 4), codebooks: SmallData.codebooks)
    }

    /// Runs `body` and returns its result with the seconds it took.
    static func timed<T>(_ body: () throws -> T) rethrows -> (T, Double) {
        let started = Date()
        let result = try body()
        return (result, Date().timeIntervalSince(started))
    }

    /// 200 idle connections from ten addresses (20 each, under the per-address cap, three times
    /// the global one): while they are open a client's stats and search, and the CLI's stats,
    /// answer at once; after the grace period the server has closed every one of them.
    @Test func idleStrangersDoNotLockOutClients() throws {
        let cluster = try Self.cluster("idle-coordinator")
        defer { cluster.stop() }
        try cluster.start()
        let client = try cluster.client()
        _ = try SmallData.add(SmallData.base.slice(0 ..< 300), to: client)

        let port = Self.port(of: cluster.coordinatorURL)
        let opened = Date()
        let flood = try (0 ..< 200).map { try RawPeer(port: port, from: "127.0.0.\(2 + $0 % 10)") }
        Thread.sleep(forTimeInterval: 0.2)  // every handshake done: the strangers hold every place

        let fresh = try cluster.client()
        let (stats, statsSeconds) = try Self.timed { try fresh.stats(deadlineMilliseconds: 2000) }
        #expect(stats.total == 300)
        #expect(statsSeconds < 3, "stats took \(statsSeconds) s")
        let query = SmallData.batch(SmallData.queries.slice(0 ..< 2))
        let (reply, searchSeconds) = try Self.timed { try fresh.search(query, options: SearchOptions(k: 5, nprobe: 4)) }
        #expect(reply.results.count == 2 && !reply.partial)
        #expect(searchSeconds < 3, "search took \(searchSeconds) s")
        let (cli, cliSeconds) = try Self.timed { try cluster.sightline(["stats"]) }
        #expect(cli.status == 0, "\(cli.output)")
        #expect(cliSeconds < 3, "sightline stats took \(cliSeconds) s")
        // The calls were answered while strangers still held every place they may hold.
        let stillOpen = flood.filter { !$0.isClosedByServer(within: 0) }.count
        #expect(Date().timeIntervalSince(opened) < Self.graceSeconds)
        #expect(stillOpen >= 32 && stillOpen <= 64, "\(stillOpen) strangers open")

        // After the grace period (and a sweep) no stranger is left.
        let deadline = opened.addingTimeInterval(Self.graceSeconds + 2)
        let lingering = flood.filter { !$0.isClosedByServer(within: max(0, deadline.timeIntervalSinceNow)) }.count
        #expect(lingering == 0, "\(lingering) idle connections outlived the grace period")
        #expect(try fresh.stats(deadlineMilliseconds: 2000).total == 300)
    }

    /// 100 idle connections from one address: all but 32 are closed at once, long before the grace
    /// period, while a client at another address is served.
    @Test func oneAddressHoldsAtMostItsShare() throws {
        let cluster = try Self.cluster("idle-per-peer")
        defer { cluster.stop() }
        try cluster.start()
        let port = Self.port(of: cluster.coordinatorURL)
        let opened = Date()
        let flood = try (0 ..< 100).map { _ in try RawPeer(port: port, from: "127.0.0.2") }
        let client = try cluster.client()
        #expect(try client.stats(deadlineMilliseconds: 2000).shards.count == 2)
        var closed = 0
        let settle = Date().addingTimeInterval(1)
        while Date() < settle {
            closed = flood.filter { $0.isClosedByServer(within: 0.001) }.count
            if closed == 68 { break }
        }
        #expect(closed == 68, "\(closed) of 100 closed: the cap per address is 32")
        #expect(Date().timeIntervalSince(opened) < Self.graceSeconds - 0.5)
        #expect(try cluster.client().health().state == "serving")
    }

    /// A worker flooded by an attacker who keeps 200 idle connections open (reconnecting whenever
    /// one is closed) still takes the coordinator's link, which starts during the flood: the
    /// cluster becomes healthy and searches are not partial.
    @Test func aFloodedWorkerStillAnswersTheCoordinator() throws {
        let cluster = try Self.cluster("idle-worker")
        defer { cluster.stop() }
        try cluster.startWorker(0)
        try cluster.startWorker(1)
        let port = Self.port(of: cluster.workerURLs[0])
        let flood = try IdleFlood(port: port, count: 200, addresses: 10)
        defer { _ = flood.stop() }
        Thread.sleep(forTimeInterval: 0.3)

        try cluster.startCoordinator()
        try cluster.waitUntilHealthy(timeout: 15)
        let client = try cluster.client()
        _ = try SmallData.add(SmallData.base.slice(0 ..< 300), to: client)
        let query = SmallData.batch(SmallData.queries.slice(0 ..< 5))
        let first = try client.search(query, options: SearchOptions(k: 5, nprobe: 4))
        #expect(!first.partial && first.results.allSatisfy { $0.ids.count == 5 })
        // Past a grace period of flooding, sweeps and reconnects included.
        Thread.sleep(forTimeInterval: Self.graceSeconds)
        let later = try client.search(query, options: SearchOptions(k: 5, nprobe: 4))
        #expect(!later.partial && later == first)
        #expect(try client.stats().shards.allSatisfy(\.reachable))
        let reopened = flood.stop()
        #expect(reopened > 0, "the worker closed none of the idle connections")
    }

    /// What the services' authenticator makes of a `RequestGate`'s answers: only a frame whose
    /// token matched and whose role sufficed proves its connection.
    @Test func onlyFramesThatPassTheTokenCheckAuthenticate() {
        let gate = RequestGate(tokens: AccessTokens(cluster: "cluster-secret", write: "writer", read: "reader"), collection: "",
                               maxFrameBytes: 1 << 16)
        let authenticates = ServiceRunner.authenticates(maxFrameBytes: 1 << 16)
        func proves(_ frame: [UInt8]) -> Bool {
            let reply = gate.handle(frame) { _ in
                .health(HealthReply(cluster: "c", shard: 0, codebookVersion: 0, vectorCount: 0, state: "serving"))
            }
            return frame.withUnsafeBytes { authenticates($0, reply) }
        }
        func request(_ token: String, _ body: RequestBody, deadline: UInt32 = 0) -> [UInt8] {
            WireCodec.encode(Request(envelope: Envelope(requestID: 3, token: token, deadlineMilliseconds: deadline), body: body))
        }
        #expect(proves(request("cluster-secret", .health)))
        #expect(proves(request("reader", .stats)))
        #expect(proves(request("cluster-secret", .health, deadline: 4_000_000_000)))  // refused after the token matched
        #expect(!proves(request("wrong", .health)))
        #expect(!proves(request("", .health)))
        #expect(!proves(request("reader", .delete(ids: [1]))))  // a role too low proves nothing either
        #expect(!proves([0x0A, 0x02, 0xFF, 0xFF]))
        #expect(!proves(request("cluster-secret", .health) + [UInt8](repeating: 0, count: 1 << 16)))
    }

    /// A frame refused for its token does not keep its connection: closed after the grace period,
    /// while a connection whose frame carried the token stays.
    @Test func aRefusedTokenDoesNotKeepItsConnection() throws {
        let cluster = try Self.cluster("idle-token")
        defer { cluster.stop() }
        try cluster.start()
        let port = Self.port(of: cluster.coordinatorURL)
        let wrong = try RawPeer(port: port)
        let right = try RawPeer(port: port)
        let opened = Date()
        try wrong.sendRequest(WireCodec.encode(Request(envelope: Envelope(requestID: 7, token: "not-the-token"), body: .health)))
        try right.sendRequest(WireCodec.encode(Request(envelope: Envelope(requestID: 8, token: cluster.token), body: .health)))
        let refusal = try wrong.receiveReply(timeout: 3).map { try WireCodec.decodeResponse($0) }
        guard case .error(let error)? = refusal?.body else { Issue.record("no refusal: \(String(describing: refusal))"); return }
        #expect(error.code == .unauthorized)
        let answer = try right.receiveReply(timeout: 3).map { try WireCodec.decodeResponse($0) }
        guard case .health? = answer?.body else { Issue.record("no health reply: \(String(describing: answer))"); return }

        #expect(wrong.isClosedByServer(within: Self.graceSeconds + 2))
        #expect(Date().timeIntervalSince(opened) > Self.graceSeconds - 0.5, "closed before the grace period")
        #expect(!right.isClosedByServer(within: max(0.5, opened.addingTimeInterval(Self.graceSeconds + 1.5).timeIntervalSinceNow)))
        try right.sendRequest(WireCodec.encode(Request(envelope: Envelope(requestID: 9, token: cluster.token), body: .health)), id: 2)
        #expect(try right.receiveReply(timeout: 3).map { try WireCodec.decodeResponse($0).requestID } == 9)
    }
}

/// An attacker who keeps `count` idle connections open to a port from `addresses` loopback
/// addresses (127.0.0.2 …), opening a new one whenever the server closes one (at most 20 every
/// 0.1 s, a churn of 200 connections a second). Runs on its own thread until `stop()`.
///
/// `@unchecked Sendable`: `peers` and `reopened` belong to the flood's thread until `stop()` has
/// waited for it to end.
final class IdleFlood: @unchecked Sendable {
    private var peers: [RawPeer]
    private var reopened = 0
    private let running = Atomic<Bool>(true)
    private let finished = DispatchSemaphore(value: 0)
    private var stopped = false

    init(port: Int, count: Int, addresses: Int) throws {
        // The server may still be starting: retry the first connection for a while.
        let deadline = Date().addingTimeInterval(10)
        while (try? RawPeer(port: port)) == nil, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        peers = try (0 ..< count).map { try RawPeer(port: port, from: "127.0.0.\(2 + $0 % addresses)") }
        let thread = Thread { [self] in
            while running.load(ordering: .relaxed) {
                var budget = 20
                for index in peers.indices where budget > 0 && peers[index].isClosedByServer(within: 0) {
                    if let peer = try? RawPeer(port: port, from: "127.0.0.\(2 + index % addresses)") {
                        peers[index] = peer
                        reopened += 1
                    }
                    budget -= 1
                }
                Thread.sleep(forTimeInterval: 0.1)
            }
            finished.signal()
        }
        thread.start()
    }

    /// Stops the flood, closes its connections and returns how many it had to reopen.
    func stop() -> Int {
        guard !stopped else { return reopened }
        stopped = true
        running.store(false, ordering: .relaxed)
        finished.wait()
        peers = []
        return reopened
    }
}

/// A TCP peer that speaks just enough of nng's SP-over-TCP to be a REQ client by hand: the 8-byte
/// header (0, 'S', 'P', 0, protocol 0x0030 = REQ0, 0, 0), then, if asked, frames (a 64-bit
/// big-endian length, a 4-byte request id with its top bit set, the body). It connects from any
/// 127.0.0.0/8 address, so one test process can be many peers. Closes its socket in `deinit`.
/// (The same helper as `TransportTests/RawPeer.swift`; test targets cannot share files.)
final class RawPeer {
    static let requestHeader: [UInt8] = [0x00, 0x53, 0x50, 0x00, 0x00, 0x30, 0x00, 0x00]
    let descriptor: Int32
    private var buffered: [UInt8] = []
    private var closedByServer = false
    private var sawServerHeader = false

    /// Connects to 127.0.0.1:`port` from `source` and sends the SP header (`handshake`; without
    /// it the peer is a bare TCP connection, for the HTTP listener).
    init(port: Int, from source: String = "127.0.0.1", handshake: Bool = true) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw RawPeerError.system("socket", errno) }
        var local = Self.address(source, port: 0)
        var remote = Self.address("127.0.0.1", port: port)
        let bound = withUnsafePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        let connected = withUnsafePointer(to: &remote) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, connected == 0 else {
            let code = errno
            Glibc.close(descriptor)
            throw RawPeerError.system("connect from \(source)", code)
        }
        if handshake { try write(Self.requestHeader) }
    }

    /// What the server sent so far (read by `isClosedByServer` and `receiveReply`).
    var received: [UInt8] { buffered }

    deinit { Glibc.close(descriptor) }

    static func address(_ host: String, port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr(host)
        address.sin_port = UInt16(port).bigEndian
        return address
    }

    func write(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard count > 0 else { throw RawPeerError.system("send", errno) }
            sent += count
        }
    }

    /// Sends one request frame: `body` behind request id `id`.
    func sendRequest(_ body: [UInt8], id: UInt32 = 1) throws {
        let length = UInt64(4 + body.count)
        let header = (0 ..< 8).map { UInt8(truncatingIfNeeded: length >> (56 - 8 * UInt64($0))) }
        let requestID = (0 ..< 4).map { UInt8(truncatingIfNeeded: (id | 0x8000_0000) >> (24 - 8 * UInt32($0))) }
        try write(header + requestID + body)
    }

    /// The body of the next reply frame (after the server's SP header), or nil when the server
    /// closed the connection or nothing came within `timeout` seconds.
    func receiveReply(timeout: Double) -> [UInt8]? {
        let deadline = Date().addingTimeInterval(timeout)
        func take(_ count: Int) -> [UInt8]? {
            while buffered.count < count {
                guard fill(until: deadline) else { return nil }
            }
            defer { buffered.removeFirst(count) }
            return Array(buffered.prefix(count))
        }
        if !sawServerHeader {
            guard let serverHeader = take(8), serverHeader[1] == 0x53 else { return nil }
            sawServerHeader = true
        }
        guard let lengthBytes = take(8) else { return nil }
        let length = Int(lengthBytes.reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        guard length >= 4, length < 1 << 26, let frame = take(length) else { return nil }
        return Array(frame.dropFirst(4))
    }

    /// Whether the server closes the connection within `timeout` seconds (a read returns 0 or
    /// fails with a reset). Bytes the server sends meanwhile are kept for `receiveReply`.
    func isClosedByServer(within timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while !closedByServer {
            if !fill(until: deadline) { return closedByServer }
        }
        return true
    }

    /// Reads what arrives before `deadline` (one poll when it has passed); false on timeout or
    /// when the server closed.
    private func fill(until deadline: Date) -> Bool {
        guard !closedByServer else { return false }
        let remaining = max(0, deadline.timeIntervalSinceNow)
        var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, Int32(remaining * 1000)) > 0 else { return false }
        var chunk = [UInt8](repeating: 0, count: 4096)
        let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
        guard count > 0 else {
            closedByServer = true
            return false
        }
        buffered += chunk.prefix(count)
        return true
    }
}

enum RawPeerError: Error { case system(String, Int32) }

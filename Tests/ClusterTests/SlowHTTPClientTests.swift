import ClusterClient
import Foundation
import Testing

/// Slow and idle HTTP clients against a real coordinator. Before, the HTTP listener (nng's) had no
/// connection cap and no header timeout: about 22,000 connections that each sent half a request
/// line exhausted the coordinator's 20,000 file descriptors, and both `/healthz` and
/// `sightline stats` over nng stopped answering until they went away. Now connections are capped
/// (1,024, and 128 from one address, a newcomer displacing the oldest idle one of the largest
/// holder), a head must arrive within the header timeout, and the descriptors stay bounded.
@Suite(.serialized) struct SlowHTTPClientTests {
    /// Descriptors open in process `pid`.
    static func openFiles(_ pid: Int32) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? 0
    }

    static func cluster(_ name: String, port: Int, extra: String = "") throws -> LocalCluster {
        try LocalCluster(name: name, workerCount: 2, index: (16, 16, 4), codebooks: SmallData.codebooks,
                         tables: "[http]\nlisten = \"http://127.0.0.1:\(port)\"\n" + extra)
    }

    /// 5,000 connections from 40 addresses (125 each, under the per-address cap), each having
    /// sent half a request line, with the defaults: the coordinator holds at most 1,024 of them,
    /// `/healthz` and `sightline stats` answer while they are open, and 10 s after the last
    /// arrived (the header timeout) every one is closed. (`SLOWLORIS_CONNECTIONS` sets another
    /// count: docs/HTTP.md quotes a run with 15,000.)
    @Test func halfRequestLinesCannotTakeTheCoordinatorDown() throws {
        let port = LocalCluster.freePort()
        let cluster = try Self.cluster("http-slowloris", port: port)
        defer { cluster.stop() }
        try cluster.start()
        let pid = try #require(cluster.coordinator?.processIdentifier)
        try HTTPProbe.waitUntilServing(port: port)
        let before = Self.openFiles(pid)

        let opened = Date()
        var flood: [RawPeer] = []
        let count = ProcessInfo.processInfo.environment["SLOWLORIS_CONNECTIONS"].flatMap { Int($0) } ?? 5000
        flood.reserveCapacity(count)
        for index in 0 ..< count {
            let peer = try RawPeer(port: port, from: "127.0.0.\(2 + index % max(1, count / 125))", handshake: false)
            try peer.write(Array("GET /v1/stats HT".utf8))
            flood.append(peer)
        }
        let openSeconds = Date().timeIntervalSince(opened)
        Thread.sleep(forTimeInterval: 0.5)  // the listener has accepted (and displaced) what it will

        let held = Self.openFiles(pid) - before
        #expect(held <= 1024 + 8, "the coordinator holds \(held) more descriptors than before the flood")
        let health = try HTTPProbe.send(port: port, method: "GET", path: "/healthz")
        #expect(health.status == 200, "\(health.text)")
        #expect(health.seconds < 2, "/healthz took \(health.seconds) s")
        let stats = try HTTPProbe.send(port: port, method: "GET", token: cluster.token, path: "/v1/stats")
        #expect(stats.status == 200, "\(stats.text.prefix(200))")
        let started = Date()
        let cli = try cluster.sightline(["stats"])
        #expect(cli.status == 0, "\(cli.output)")
        #expect(Date().timeIntervalSince(started) < 3)
        let stillOpen = flood.filter { !$0.isClosedByServer(within: 0) }.count
        #expect(stillOpen <= 1024, "\(stillOpen) half-sent requests still open")
        print("SlowHTTPClientTests: \(count) connections opened in \(String(format: "%.1f", openSeconds)) s; coordinator +\(held) "
              + "descriptors, \(stillOpen) still open; /healthz in \(String(format: "%.3f", health.seconds)) s")

        // After the header timeout every half-sent request is gone.
        let deadline = opened.addingTimeInterval(openSeconds + 10 + 3)
        let lingering = flood.filter { !$0.isClosedByServer(within: max(0, deadline.timeIntervalSinceNow)) }.count
        #expect(lingering == 0, "\(lingering) connections outlived the header timeout")
        #expect(Self.openFiles(pid) - before <= 8)
    }

    /// A head sent a byte a second is cut off at the header timeout, an idle keep-alive
    /// connection at the idle timeout, and a body that stalls at 30 s is not waited for longer;
    /// a request that keeps to the limits is answered on the same connection, chunked or not.
    @Test func slowHeadsAndIdleConnectionsAreClosedAndChunkedBodiesWork() throws {
        let port = LocalCluster.freePort()
        let cluster = try Self.cluster("http-timeouts", port: port, extra: "header_timeout_seconds = 2\nidle_timeout_seconds = 3\n")
        defer { cluster.stop() }
        try cluster.start()
        try HTTPProbe.waitUntilServing(port: port)

        // A byte a second: closed about 2 s after the first.
        let dribble = try RawPeer(port: port, handshake: false)
        let started = Date()
        var closedAfter: Double?
        for byte in Array("GET /healthz HTTP/1.1\r\n".utf8) {
            if dribble.isClosedByServer(within: 0) || (try? dribble.write([byte])) == nil {
                closedAfter = Date().timeIntervalSince(started)
                break
            }
            Thread.sleep(forTimeInterval: 0.5)
        }
        if closedAfter == nil, dribble.isClosedByServer(within: 3) { closedAfter = Date().timeIntervalSince(started) }
        #expect(closedAfter.map { $0 >= 1.5 && $0 < 4 } == true, "closed after \(String(describing: closedAfter)) s")

        // Connected and silent: closed at the idle timeout (3 s), not before.
        let silent = try RawPeer(port: port, handshake: false)
        #expect(!silent.isClosedByServer(within: 2))
        #expect(silent.isClosedByServer(within: 3))

        // Two requests on one connection, the second with a chunked body; then the connection idles out.
        let client = try RawPeer(port: port, handshake: false)
        try client.write(Array("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        let body = #"{"vector": [0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0], "k": 1}"#
        let chunks = body.utf8.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false).enumerated().map { index, part in
            (index == 0 ? [] : [UInt8(ascii: ",")]) + Array(part)
        }
        var chunked = "POST /v1/search HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(cluster.token)\r\nContent-Type: application/json\r\n"
            + "Transfer-Encoding: chunked\r\n\r\n"
        for chunk in chunks { chunked += String(chunk.count, radix: 16) + "\r\n" + String(decoding: chunk, as: UTF8.self) + "\r\n" }
        chunked += "0\r\n\r\n"
        try client.write(Array(chunked.utf8))
        #expect(client.isClosedByServer(within: 5))  // idle after both answers
        let answers = String(decoding: client.received, as: UTF8.self)
        #expect(answers.components(separatedBy: "HTTP/1.1 200").count == 3, "\(answers.prefix(600))")
        #expect(answers.contains("\"results\""), "\(answers.prefix(600))")

        // A chunked body past max_body_bytes (16 MiB) is refused with 413 once it passes the limit.
        let big = try RawPeer(port: port, handshake: false)
        try big.write(Array(("POST /v1/search HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(cluster.token)\r\n"
                             + "Transfer-Encoding: chunked\r\n\r\n").utf8))
        let piece = [UInt8](repeating: UInt8(ascii: " "), count: 1 << 20)
        for _ in 0 ..< 17 {
            guard (try? big.write(Array((String(piece.count, radix: 16) + "\r\n").utf8) + piece + Array("\r\n".utf8))) != nil else { break }
        }
        #expect(big.isClosedByServer(within: 5))
        #expect(String(decoding: big.received, as: UTF8.self).hasPrefix("HTTP/1.1 413"),
                "\(String(decoding: big.received.prefix(300), as: UTF8.self))")
    }

    /// A client that pipelines requests and never reads the answers: once the answers waiting for
    /// it pass the channel's write buffer, the server stops reading from it, so its sends stall
    /// (a full second with nothing accepted) and the coordinator grows by a few MB. Reading on
    /// regardless, it took 8 MiB of requests and grew by 51 MB before stalling; now 5 MiB and 5 MB.
    @Test func aClientThatNeverReadsIsNotReadFrom() throws {
        let port = LocalCluster.freePort()
        let cluster = try Self.cluster("http-no-reader", port: port)
        defer { cluster.stop() }
        try cluster.start()
        let pid = try #require(cluster.coordinator?.processIdentifier)
        try HTTPProbe.waitUntilServing(port: port)
        let before = HTTPProbe.kilobytes(pid, "VmRSS")
        let peer = try RawPeer(port: port, handshake: false)
        let requests = Array(String(repeating: "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", count: 256).utf8)
        var accepted = 0, stalledFor = 0.0, lastProgress = Date()
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline, stalledFor < 1 {
            let sent = requests.withUnsafeBytes { send(peer.descriptor, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL)) }
            if sent > 0 {
                accepted += sent
                lastProgress = Date()
            } else {
                Thread.sleep(forTimeInterval: 0.01)
            }
            stalledFor = Date().timeIntervalSince(lastProgress)
        }
        let growthMB = Double(HTTPProbe.kilobytes(pid, "VmRSS") - before) / 1024
        print("SlowHTTPClientTests: a client that never reads had \(accepted / 1024) KiB of requests taken; "
              + "coordinator +\(Int(growthMB)) MB")
        #expect(stalledFor >= 1, "the server kept reading: \(accepted) bytes of requests taken in 20 s")
        #expect(growthMB < 25, "+\(growthMB) MB")
        // Other clients are served meanwhile.
        #expect(try HTTPProbe.send(port: port, method: "GET", path: "/healthz").status == 200)
    }
}

import Foundation
import Synchronization
import Testing

/// The coordinator's own memory under the bodies of the issue, read from /proc of the real
/// process. Before: 8 concurrent `POST /v1/search` bodies of 16 MiB, each 4,194,276 one-element
/// vectors (a body of this test's 16-d vectors decodes the same way), took the coordinator from
/// 55 MB to 1,372 MB of peak resident set and 3–7 s apiece
/// before they were refused (Foundation's decoder built every vector first). Now the gateway
/// walks each body to its 10,001st vector and refuses it: what remains is the body itself, held
/// while it is read and answered (docs/HTTP.md: at most 64 × max_body_bytes).
@Suite(.serialized) struct HTTPMemoryTests {
    /// One query of the cluster's dimension (16 zeros) and the comma before it: 34 bytes.
    static let row = "[" + Array(repeating: "0", count: 16).joined(separator: ",") + "]"
    static let queries = ((16 << 20) - 64) / (row.utf8.count + 1)

    /// `{"vectors": [[0,…,0],[0,…,0],…]}`: 16-d queries (493,447 of them, 49 times the limit),
    /// just under 16 MiB, the default max_body_bytes.
    static let body: [UInt8] = {
        var body = Array(#"{"vectors": ["#.utf8)
        body.reserveCapacity(16 << 20)
        for index in 0 ..< queries { body.append(contentsOf: ((index == 0 ? "" : ",") + row).utf8) }
        body.append(contentsOf: "]}".utf8)
        return body
    }()

    @Test func sixteenMebibyteSearchBodiesAreRefusedAtTheQueryLimitWithoutDecoding() throws {
        let port = LocalCluster.freePort()
        let cluster = try LocalCluster(name: "http-memory", workerCount: 1, index: (16, 16, 4), codebooks: SmallData.codebooks,
                                       tables: "[http]\nlisten = \"http://127.0.0.1:\(port)\"\n")
        defer { cluster.stop() }
        try cluster.start()
        let pid = try #require(cluster.coordinator?.processIdentifier)
        try HTTPProbe.waitUntilServing(port: port)
        #expect(Self.body.count > (16 << 20) - 100 && Self.body.count <= 16 << 20, "\(Self.body.count) bytes")

        // One body alone: its bytes, and for a moment their copy out of nng's read buffer.
        HTTPProbe.resetPeak(pid)
        var before = HTTPProbe.kilobytes(pid, "VmRSS")
        let single = try HTTPProbe.send(port: port, token: cluster.token, path: "/v1/search", body: Self.body)
        let singleGrowth = Double(HTTPProbe.kilobytes(pid, "VmHWM") - before) / 1024
        #expect(single.status == 400 && single.text.contains("more than 10000 queries"), "\(single.text)")

        // The issue's 8 at once.
        HTTPProbe.resetPeak(pid)
        before = HTTPProbe.kilobytes(pid, "VmRSS")
        let answers = Mutex<[(status: Int, text: String, seconds: Double)]>([])
        let threads = (0 ..< 8).map { _ in
            Thread {
                let started = Date()
                let answer = (try? HTTPProbe.send(port: port, token: cluster.token, path: "/v1/search", body: Self.body))
                    ?? (status: 0, text: "no answer", seconds: 0)
                answers.withLock { $0.append((answer.status, answer.text, Date().timeIntervalSince(started))) }
            }
        }
        threads.forEach { $0.start() }
        let deadline = Date().addingTimeInterval(120)
        while answers.withLock({ $0.count }) < threads.count, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        let peak = HTTPProbe.kilobytes(pid, "VmHWM")
        let growth = Double(peak - before) / 1024
        let all = answers.withLock { $0 }
        let slowest = all.map(\.seconds).max() ?? 0
        print("HTTPMemoryTests: one 16 MiB body: peak +\(Int(singleGrowth)) MB in \(String(format: "%.2f", single.seconds)) s; "
              + "8 at once: peak \(Int(Double(before) / 1024)) → \(Int(Double(peak) / 1024)) MB (+\(Int(growth)) MB), slowest answer "
              + String(format: "%.2f s", slowest))
        #expect(all.count == 8)
        for answer in all {
            #expect(answer.status == 400 && answer.text.contains("more than 10000 queries: send 1 … 10000"), "\(answer.text.prefix(300))")
        }
        #expect(slowest < 10, "\(slowest) s")
        // Each body at most twice (while it is copied out of nng's read buffer), plus 32 MB of slack.
        let bodyMB = Double(Self.body.count) / Double(1 << 20)
        #expect(singleGrowth < 2 * bodyMB + 32, "one body: +\(singleGrowth) MB")
        #expect(growth < 8 * 2 * bodyMB + 32, "8 bodies: +\(growth) MB")
    }
}

/// A bare HTTP/1.1 client on loopback and a look at another process's memory.
enum HTTPProbe {
    /// kB of `field` (`VmHWM`: peak resident set; `VmRSS`: now) in /proc/PID/status.
    static func kilobytes(_ pid: Int32, _ field: String) -> Int {
        let text = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = text.split(separator: "\n").first { $0.hasPrefix(field + ":") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }

    /// Sets the process's VmHWM back to its resident set (Linux ≥ 4.0; the same user may).
    static func resetPeak(_ pid: Int32) {
        let descriptor = open("/proc/\(pid)/clear_refs", O_WRONLY)
        guard descriptor >= 0 else { return }
        _ = write(descriptor, "5", 1)
        close(descriptor)
    }

    static func waitUntilServing(port: Int, timeout: Double = 30) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let answer = try? send(port: port, method: "GET", path: "/healthz"), answer.status == 200 { return }
            Thread.sleep(forTimeInterval: 0.1)
        }
        throw ClusterTestError.notHealthy("the HTTP API on port \(port) did not answer /healthz")
    }

    /// One request on its own connection: the answer's status, body and seconds to it.
    static func send(port: Int, method: String = "POST", token: String? = nil, path: String,
                     body: [UInt8] = []) throws -> (status: Int, text: String, seconds: Double) {
        let started = Date()
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw ClusterTestError.notHealthy("socket: \(errno)") }
        defer { close(descriptor) }
        var timeout = timeval(tv_sec: 60, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw ClusterTestError.notHealthy("connect to port \(port): \(errno)") }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        if let token { head += "Authorization: Bearer \(token)\r\n" }
        head += "Content-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        for bytes in [Array(head.utf8), body] {
            var sent = 0
            try bytes.withUnsafeBytes { raw in
                while sent < raw.count {
                    let count = Glibc.send(descriptor, raw.baseAddress! + sent, raw.count - sent, Int32(MSG_NOSIGNAL))
                    guard count > 0 else { throw ClusterTestError.notHealthy("send: \(errno)") }
                    sent += count
                }
            }
        }
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while !isComplete(received) {
            let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { break }
            received += chunk[0 ..< count]
        }
        let text = String(decoding: received, as: UTF8.self)
        guard let statusLine = text.split(separator: "\r\n").first, statusLine.hasPrefix("HTTP/1.1 "),
              let status = Int(statusLine.split(separator: " ")[1]) else {
            throw ClusterTestError.notHealthy("no HTTP answer: \(text.prefix(200))")
        }
        let answer = text.range(of: "\r\n\r\n").map { String(text[$0.upperBound...]) } ?? ""
        return (status, answer, Date().timeIntervalSince(started))
    }

    /// Headers and Content-Length bytes of body are in.
    private static func isComplete(_ received: [UInt8]) -> Bool {
        let text = String(decoding: received, as: UTF8.self)
        guard let end = text.range(of: "\r\n\r\n") else { return false }
        let length = text[..<end.lowerBound].split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
            .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
        return text[end.upperBound...].utf8.count >= length
    }
}

import Foundation

/// A TCP peer that speaks just enough of nng's SP-over-TCP to be a REQ client by hand: the 8-byte
/// header (0, 'S', 'P', 0, protocol 0x0030 = REQ0, 0, 0), then, if asked, frames (a 64-bit
/// big-endian length, a 4-byte request id with its top bit set, the body). It can connect from
/// any 127.0.0.0/8 address, so one test process can be many peers. Closes its socket in `deinit`.
final class RawPeer {
    static let requestHeader: [UInt8] = [0x00, 0x53, 0x50, 0x00, 0x00, 0x30, 0x00, 0x00]
    let descriptor: Int32
    private var buffered: [UInt8] = []
    private var closedByServer = false
    private var sawServerHeader = false

    /// Connects to 127.0.0.1:`port` from `source` and sends the SP header.
    init(port: Int, from source: String = "127.0.0.1") throws {
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
        try write(Self.requestHeader)
    }

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

/// A TCP port nobody listens on now (bound to 0, read back, released).
func freeLoopbackPort() -> Int {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(descriptor) }
    var address = RawPeer.address("127.0.0.1", port: 0)
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) } }
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

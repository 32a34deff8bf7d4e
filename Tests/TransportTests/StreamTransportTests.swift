import CNNG
import Foundation
import Synchronization
import Testing
@testable import Transport

/// The stream transport (`NNGConnection`, `ReplyServer` over nng byte streams) against itself and
/// against nng's own REQ and REP sockets, on tcp loopback: concurrency over one connection, frames
/// larger than the read buffer, a server that comes late or dies mid-request, oversized replies.
@Suite(.serialized) struct StreamTransportTests {
    static func freePort() -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { Glibc.close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0
            }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static func url() -> String { "tcp://127.0.0.1:\(freePort())" }

    /// The server's answer to `frame`: every byte plus one.
    static func answer(_ frame: UnsafeRawBufferPointer) -> [UInt8] { frame.map { $0 &+ 1 } }

    @Test func concurrentCallersOfMixedSizesShareOneConnection() async throws {
        let address = Self.url()
        let server = try ReplyServer(listen: address, receiveLimit: 1 << 22, workerCount: 4) { Self.answer($0) }
        server.start()
        defer { server.close() }
        let client = try NNGConnection(dial: address)
        let sizes = [0, 1, 100, 65_536, 70_001, 300_000]
        let failures = Mutex(0)
        async let asynchronous: Int = withTaskGroup(of: Bool.self) { group in
            for index in 0 ..< 40 {
                group.addTask {
                    let bytes = (0 ..< sizes[index % sizes.count]).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ index) }
                    let reply = try? await client.send(bytes, timeoutMilliseconds: 20_000)
                    return reply == bytes.map { $0 &+ 1 }
                }
            }
            var wrong = 0
            for await right in group where !right { wrong += 1 }
            return wrong
        }
        DispatchQueue.concurrentPerform(iterations: 8) { thread in
            for round in 0 ..< 30 {
                let bytes = (0 ..< sizes[(thread + round) % sizes.count]).map { UInt8(truncatingIfNeeded: $0 &+ thread &* 31 &+ round) }
                let reply = try? client.request(bytes, timeoutMilliseconds: 20_000)
                if reply != bytes.map({ $0 &+ 1 }) { failures.withLock { $0 += 1 } }
            }
        }
        #expect(failures.withLock { $0 } == 0)
        #expect(await asynchronous == 0)
        #expect(server.connectionCount == 1)
    }

    @Test func aRequestWaitsForAServerThatStartsLater() throws {
        let address = Self.url()
        let client = try NNGConnection(dial: address)
        let pending = client.start([1, 2], timeoutMilliseconds: 5000)
        Thread.sleep(forTimeInterval: 0.3)
        let server = try ReplyServer(listen: address, receiveLimit: 1 << 16, workerCount: 1) { Self.answer($0) }
        server.start()
        defer { server.close() }
        #expect(try pending.wait().get() == [2, 3])
    }

    @Test func aRequestInFlightWhenItsServerDiesGoesToTheNextOne() throws {
        let address = Self.url()
        let first = try ReplyServer(listen: address, receiveLimit: 1 << 16, workerCount: 1) { _ in
            Thread.sleep(forTimeInterval: 0.5)
            return [0xAA]
        }
        first.start()
        let client = try NNGConnection(dial: address)
        let pending = client.start([7], timeoutMilliseconds: 10_000)
        Thread.sleep(forTimeInterval: 0.2)
        first.close()  // the answer being computed is dropped with the connection
        let second = try ReplyServer(listen: address, receiveLimit: 1 << 16, workerCount: 1) { Self.answer($0) }
        second.start()
        defer { second.close() }
        #expect(try pending.wait().get() == [8])
    }

    /// A peer that accepts the connection and never greets (a hung server) holds no request for
    /// ever: its link is closed after `StreamRequester.greetingMilliseconds` and dialled again,
    /// and the server now listening there answers.
    @Test func aPeerThatNeverGreetsIsDroppedForTheNextServer() throws {
        let port = Self.freePort()
        let listener = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var yes: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let bound = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        #expect(bound == 0 && Glibc.listen(listener, 4) == 0)
        let client = try NNGConnection(dial: "tcp://127.0.0.1:\(port)")
        let silent = accept(listener, nil, nil)  // connected, and it will never say a word
        defer { Glibc.close(silent) }
        Glibc.close(listener)
        #expect(throws: TransportError.timedOut(operation: "send")) { try client.request([1], timeoutMilliseconds: 300) }
        let server = try ReplyServer(listen: "tcp://127.0.0.1:\(port)", receiveLimit: 1 << 16, workerCount: 1) { Self.answer($0) }
        server.start()
        defer { server.close() }
        let started = Date()
        #expect(try client.request([4], timeoutMilliseconds: StreamRequester.greetingMilliseconds + 5000) == [5])
        #expect(Date().timeIntervalSince(started) < Double(StreamRequester.greetingMilliseconds) / 1000 + 4)
    }

    @Test func anOversizedReplyClosesTheLinkAndLaterRequestsStillWork() throws {
        let address = Self.url()
        let server = try ReplyServer(listen: address, receiveLimit: 1 << 16, workerCount: 2) { frame in
            frame.first == 1 ? [UInt8](repeating: 9, count: 5000) : Self.answer(frame)
        }
        server.start()
        defer { server.close() }
        let client = try NNGConnection(dial: address, receiveLimit: 1000)
        #expect(throws: TransportError.timedOut(operation: "receive")) { try client.request([1], timeoutMilliseconds: 600) }
        #expect(try client.request([2, 3], timeoutMilliseconds: 5000) == [3, 4])
    }

    /// Connects to 127.0.0.1:`port`, sends `bytes`, and says whether the server closed the
    /// connection within 3 s (after its own 8-byte greeting).
    static func serverCloses(port: Int, after bytes: [UInt8]) -> Bool {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { Glibc.close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return false }
        var timeout = timeval(tv_sec: 3, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        _ = bytes.withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var buffer = [UInt8](repeating: 0, count: 64)
        var received = 0
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
            if count == 0 { return received <= SPFraming.greetingLength }  // closed, having sent no reply
            if count < 0 { return false }  // still open after 3 s
            received += count
        }
    }

    /// Malformed peers (not the protocol, the wrong peer protocol, an absurd length, a frame too
    /// short for a request id) lose their connection before anything is allocated for them, and
    /// the server goes on answering.
    @Test func malformedPeersAreDisconnectedAndTheServerServes() throws {
        let port = Self.freePort()
        let server = try ReplyServer(listen: "tcp://127.0.0.1:\(port)", receiveLimit: 1 << 16, workerCount: 2) { Self.answer($0) }
        server.start()
        defer { server.close() }
        let request = SPFraming.greeting(SPFraming.requestProtocol)
        let cases: [(String, [UInt8])] = [
            ("no greeting", Array("GET / HTTP/1.1\r\n\r\n".utf8)),
            ("a REP greeting", SPFraming.greeting(SPFraming.replyProtocol)),
            ("a length of 2^64 - 1", request + [UInt8](repeating: 0xFF, count: 8)),
            ("a length over the limit", request + SPFraming.header(.tcp, length: (1 << 16) + 1)),
            ("a frame too short for a request id", request + SPFraming.header(.tcp, length: 2) + [0x80, 0]),
        ]
        for (name, bytes) in cases { #expect(Self.serverCloses(port: port, after: bytes), "\(name)") }
        let client = try NNGConnection(dial: "tcp://127.0.0.1:\(port)")
        #expect(try client.request([1, 2], timeoutMilliseconds: 5000) == [2, 3])
    }

    @Test func nngsOwnSocketsSpeakWithIt() throws {
        // nng's REQ socket against this server.
        let serverAddress = Self.url()
        let server = try ReplyServer(listen: serverAddress, receiveLimit: 1 << 16, workerCount: 1) { Self.answer($0) }
        server.start()
        defer { server.close() }
        var request = nng_socket()
        #expect(nng_req0_open(&request) == 0)
        defer { nng_close(request) }
        nng_socket_set_ms(request, NNG_OPT_RECVTIMEO, 5000)
        #expect(nng_dial(request, serverAddress, nil, 0) == 0)
        var sent: [UInt8] = [10, 20, 30]
        #expect(nng_send(request, &sent, sent.count, 0) == 0)
        var buffer: UnsafeMutableRawPointer?
        var size = 0
        #expect(nng_recv(request, &buffer, &size, Int32(NNG_FLAG_ALLOC)) == 0)
        if let buffer {
            #expect(Array(UnsafeRawBufferPointer(start: buffer, count: size)) == [11, 21, 31])
            nng_free(buffer, size)
        }

        // This client against nng's REP socket.
        let replyAddress = Self.url()
        var reply = nng_socket()
        #expect(nng_rep0_open(&reply) == 0)
        #expect(nng_listen(reply, replyAddress, nil, 0) == 0)
        nng_socket_set_ms(reply, NNG_OPT_RECVTIMEO, 5000)
        let answered = DispatchSemaphore(value: 0)
        let socket = reply
        Thread.detachNewThread {
            var message: OpaquePointer?
            if nng_recvmsg(socket, &message, 0) == 0, let message {
                let body = nng_msg_body(message)!.assumingMemoryBound(to: UInt8.self)
                for index in 0 ..< nng_msg_len(message) { body[index] &+= 1 }
                if nng_sendmsg(socket, message, 0) != 0 { nng_msg_free(message) }
            }
            answered.signal()
        }
        let client = try NNGConnection(dial: replyAddress)
        #expect(try client.request([1, 2, 3], timeoutMilliseconds: 5000) == [2, 3, 4])
        answered.wait()
        nng_close(reply)
    }
}

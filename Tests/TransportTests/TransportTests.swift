import Foundation
import Testing
@testable import Transport

@Suite struct TransportTests {
    static func url() -> String { "ipc:///tmp/sightline-transport-\(getpid())-\(UInt32.random(in: 0 ... .max))" }

    @Test func requestReplyOverIPCAndConcurrentRequests() async throws {
        let address = Self.url()
        let server = try ReplyServer(listen: address, receiveLimit: 1 << 20, workerCount: 4) { Array($0.reversed()) }
        server.start()
        defer { server.close() }
        let client = try NNGConnection(dial: address)
        #expect(try client.request([1, 2, 3], timeoutMilliseconds: 2000) == [3, 2, 1])
        let asyncReply = try await client.send([4, 5], timeoutMilliseconds: 2000)
        #expect(asyncReply == [5, 4])
        let replies = requestAll((0 ..< 8).map { (client, [UInt8($0), 9]) }, timeoutMilliseconds: 2000)
        for (index, reply) in replies.enumerated() { #expect(try reply.get() == [9, UInt8(index)]) }
    }

    @Test func anUnreachablePeerTimesOutWithinTheDeadline() async throws {
        let client = try NNGConnection(dial: "tcp://127.0.0.1:1")
        let start = Date()
        #expect(throws: TransportError.timedOut(operation: "send")) { try client.request([1], timeoutMilliseconds: 300) }
        #expect(Date().timeIntervalSince(start) < 2)
        await #expect(throws: TransportError.self) { try await client.send([1], timeoutMilliseconds: 200) }
    }

    @Test func badAddressesAreTypedErrors() {
        #expect(throws: TransportError.self) { try NNGConnection(dial: "carrier-pigeon://nowhere") }
        #expect(throws: TransportError.self) { try ReplyServer(listen: "tcp://300.1.1.1:99999", receiveLimit: 10) { Array($0) } }
    }
}

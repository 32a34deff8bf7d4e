import Foundation
import Testing
@testable import Transport

@Suite struct ConnectionLimitTests {
    /// Two connections are served; a third is closed as it arrives until one of the two leaves.
    @Test func connectionsBeyondTheLimitAreClosed() throws {
        let address = "ipc:///tmp/sightline-limit-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        let server = try ReplyServer(listen: address, receiveLimit: 1 << 16, workerCount: 2, maxConnections: 2) { Array($0) }
        server.start()
        defer { server.close() }
        var first: NNGConnection? = try NNGConnection(dial: address)
        let second = try NNGConnection(dial: address)
        #expect(try first?.request([1], timeoutMilliseconds: 2000) == [1])
        #expect(try second.request([2], timeoutMilliseconds: 2000) == [2])
        #expect(server.connectionCount == 2)
        let third = try NNGConnection(dial: address)
        #expect(throws: TransportError.self) { try third.request([3], timeoutMilliseconds: 400) }
        #expect(server.connectionCount == 2)
        first = nil  // closes its socket: a place frees up and the third one's redial gets in
        #expect(try third.request([3], timeoutMilliseconds: 3000) == [3])
    }
}

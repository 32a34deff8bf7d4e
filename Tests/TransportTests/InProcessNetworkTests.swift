import Foundation
import Testing
@testable import Transport

@Suite struct InProcessNetworkTests {
    @Test func requestsReachTheHandlerOfTheirURL() async throws {
        let network = InProcessNetwork()
        network.listen("inproc://a") { $0.reversed() }
        network.listen("inproc://b") { $0 + [0] }
        #expect(try network.connect("inproc://a").request([1, 2, 3], timeoutMilliseconds: 1000) == [3, 2, 1])
        let asyncReply = try await network.connect("inproc://b").send([7], timeoutMilliseconds: 1000)
        #expect(asyncReply == [7, 0])
        let replies = requestAll([(network.connect("inproc://a"), [1, 2]), (network.connect("inproc://b"), [5])],
                                 timeoutMilliseconds: 1000)
        #expect(try replies.map { try $0.get() } == [[2, 1], [5, 0]])
    }

    @Test func aClosedURLFailsAtOnceAndAHungHandlerTimesOut() async throws {
        let network = InProcessNetwork()
        network.listen("inproc://slow") { bytes in
            Thread.sleep(forTimeInterval: 0.5)
            return bytes
        }
        network.listen("inproc://gone") { $0 }
        network.close("inproc://gone")
        let replies = requestAll([(network.connect("inproc://gone"), [1]), (network.connect("inproc://slow"), [2])],
                                 timeoutMilliseconds: 50)
        #expect(throws: TransportError.unreachable("inproc://gone")) { try replies[0].get() }
        #expect(throws: TransportError.timedOut(operation: "receive")) { try replies[1].get() }
        #expect(TransportError.unreachable("x").isUnavailable)
        await #expect(throws: TransportError.self) { try await network.connect("inproc://gone").send([1], timeoutMilliseconds: 50) }
    }
}

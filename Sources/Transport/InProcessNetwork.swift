import Dispatch
import Foundation
import Synchronization

/// Servers and connections inside one process, without sockets: a request is a call of the
/// handler registered under its URL, on a thread of its own (as a server's request thread would
/// be, and so that it never queues behind other work on Dispatch's few shared threads). Tests wire a coordinator and its
/// workers together with it, stop a "worker" by removing its handler, and so check cluster logic
/// in milliseconds; everything above `Connection` runs unchanged.
public final class InProcessNetwork: Sendable {
    public typealias Handler = @Sendable ([UInt8]) -> [UInt8]

    private let handlers = Mutex<[String: Handler]>([:])

    public init() {}

    /// Serves `url` with `handler`, replacing any earlier one.
    public func listen(_ url: String, handler: @escaping Handler) {
        handlers.withLock { $0[url] = handler }
    }

    /// Stops serving `url`: requests to it fail at once as unreachable.
    public func close(_ url: String) {
        handlers.withLock { $0[url] = nil }
    }

    public func connect(_ url: String) -> InProcessConnection {
        InProcessConnection(network: self, url: url)
    }

    func handler(for url: String) -> Handler? { handlers.withLock { $0[url] } }
}

/// A connection to one URL of an `InProcessNetwork`.
public struct InProcessConnection: Connection {
    let network: InProcessNetwork
    public let url: String

    public func start(_ bytes: [UInt8], timeoutMilliseconds: Int) -> any PendingReply {
        guard let handler = network.handler(for: url) else {
            return InProcessReply(ready: .failure(.unreachable(url)))
        }
        let reply = InProcessReply(timeoutMilliseconds: timeoutMilliseconds)
        Thread.detachNewThread { reply.deliver(handler(bytes)) }
        return reply
    }

    public func send(_ bytes: [UInt8], timeoutMilliseconds: Int) async throws -> [UInt8] {
        guard let handler = network.handler(for: url) else { throw TransportError.unreachable(url) }
        return await withCheckedContinuation { continuation in
            Thread.detachNewThread { continuation.resume(returning: handler(bytes)) }
        }
    }
}

/// The reply slot of one in-process request; a handler that answers after the timeout is ignored.
final class InProcessReply: PendingReply, Sendable {
    private let slot = Mutex<[UInt8]?>(nil)
    private let arrived = DispatchSemaphore(value: 0)
    private let ready: Result<[UInt8], TransportError>?
    private let timeoutMilliseconds: Int

    init(ready: Result<[UInt8], TransportError>) {
        self.ready = ready
        timeoutMilliseconds = 0
    }

    init(timeoutMilliseconds: Int) {
        ready = nil
        self.timeoutMilliseconds = max(1, timeoutMilliseconds)
    }

    func deliver(_ bytes: [UInt8]) {
        slot.withLock { $0 = bytes }
        arrived.signal()
    }

    func wait() -> Result<[UInt8], TransportError> {
        if let ready { return ready }
        guard arrived.wait(timeout: .now() + .milliseconds(timeoutMilliseconds)) == .success,
              let bytes = slot.withLock({ $0 }) else {
            return .failure(.timedOut(operation: "receive"))
        }
        return .success(bytes)
    }
}

import Foundation
import ClusterModel
import Dispatch
import ServiceSupport
import Synchronization
import Transport
import Wire
@testable import CoordinatorService

/// Workers made of functions on an `InProcessNetwork`: each answers `.delete(deleted: its
/// number)`, so a reply says who sent it, and may hold its answer until the test lets it go.
final class FakeWorkers: Sendable {
    let network = InProcessNetwork()
    private let calls = Mutex<[String: Int]>([:])
    /// Workers that hold every answer until `release` (a hung worker).
    private let held = Mutex<[String: DispatchSemaphore]>([:])

    /// Serves `url`, answering with `number`; `hung` workers answer only once released.
    func serve(_ url: String, number: UInt64, hung: Bool = false) {
        if hung { held.withLock { $0[url] = DispatchSemaphore(value: 0) } }
        network.listen(url) { [self] frame in
            calls.withLock { $0[url, default: 0] += 1 }
            let request = try? WireCodec.decodeRequest(frame)
            if let gate = held.withLock({ $0[url] }) { gate.wait(); gate.signal() }
            return WireCodec.encode(Response(requestID: request?.envelope.requestID ?? 0, body: .delete(deleted: number)))
        }
    }

    /// Lets a hung worker answer (what it holds and everything after).
    func release(_ url: String) { held.withLock { $0[url] }?.signal() }

    func callCount(_ url: String) -> Int { calls.withLock { $0[url] ?? 0 } }

    /// A pool over these workers on `clock`, logging into `log`.
    func pool(clock: ManualClock, log: LogLines = LogLines()) -> WorkerPool {
        let network = network
        return WorkerPool(token: "t", clock: clock, dial: { network.connect($0) }, log: { log.append($0) },
                          describe: { shard, url in "shard \(shard) at \(url)" })
    }
}

/// Runs `body` on its own thread; `result()` waits (in real time, at most 10 s) for its value.
final class Background<T: Sendable>: Sendable {
    private let value = Mutex<T?>(nil)
    private let done = DispatchSemaphore(value: 0)

    init(_ body: @escaping @Sendable () -> T) {
        Thread.detachNewThread { [self] in
            let result = body()
            value.withLock { $0 = result }
            done.signal()
        }
    }

    func result() -> T? {
        _ = done.wait(timeout: .now() + .seconds(10))
        return value.withLock { $0 }
    }

    var isDone: Bool { value.withLock { $0 != nil } }
}

/// The worker number a reply names (see `FakeWorkers`), or nil for a failure.
func answeredBy(_ reply: Result<ResponseBody, ErrorReply>?) -> UInt64? {
    guard case .success(.delete(let number)) = reply else { return nil }
    return number
}

/// What a pool logged.
final class LogLines: Sendable {
    private let lines = Mutex<[String]>([])
    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
}

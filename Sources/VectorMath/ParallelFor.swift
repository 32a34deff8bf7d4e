import COpenBLAS
import Dispatch
import Synchronization

/// Runs `body(index)` for every index in `0..<count` on up to `threads` threads.
///
/// Indices are handed out in chunks of `chunk` through one atomic counter, so uneven work (long and
/// short inverted lists) balances itself. With `threads <= 1` the loop runs inline, in order.
/// OpenBLAS is held at one thread (see `BLAS.setThreadCount`).
///
/// `body` may run concurrently with itself: it must write only to disjoint places (its own slot of
/// an output buffer), which is how every caller in Sightline uses it.
public func parallelFor(_ count: Int, threads: Int, chunk: Int = 1, _ body: (Int) -> Void) {
    guard count > 0 else { return }
    let chunk = max(1, chunk)
    let workers = min(max(1, threads), (count + chunk - 1) / chunk)
    if workers == 1 {
        for index in 0 ..< count { body(index) }
        return
    }
    BlasThreadPolicy.ensureSingleThreaded()
    let next = Atomic<Int>(0)
    withoutActuallyEscaping(body) { body in
        let shared = DisjointWrites(body)
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while true {
                let start = next.wrappingAdd(chunk, ordering: .relaxed).oldValue
                if start >= count { break }
                for index in start ..< min(start + chunk, count) { shared.value(index) }
            }
        }
    }
}

/// The number of threads to use when the caller says 0 ("all cores").
public func resolvedThreadCount(_ requested: Int) -> Int {
    requested > 0 ? requested : max(1, Int(openblas_get_num_procs()))
}

/// Carries a value (a closure, a buffer or a pointer) into `parallelFor`'s iterations. Safe only
/// because every use writes disjoint places (each iteration its own slots) and the value does not
/// outlive the loop: the one wrapper Sightline uses for that, so the unchecked claim is made once.
public struct DisjointWrites<Value>: @unchecked Sendable {
    public let value: Value
    public init(_ value: Value) { self.value = value }
}

enum BlasThreadPolicy {
    static let once: Void = { BLAS.setThreadCount(1) }()
    static func ensureSingleThreaded() { _ = once }
}

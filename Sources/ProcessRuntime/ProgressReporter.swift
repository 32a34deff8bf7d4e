import Foundation
import Synchronization

/// Prints progress of long steps to standard error, at most a few times a second, so that
/// standard output stays clean for tables and JSON.
public final class ProgressReporter: Sendable {
    private let state = Mutex<(lastPrint: UInt64, lastStage: String)>((0, ""))
    private let enabled: Bool
    /// On a terminal one line is rewritten in place; in a log file, a line every few seconds.
    private let interactive: Bool

    /// Monotonic nanoseconds; tests pass one that runs backwards.
    private let clock: @Sendable () -> UInt64

    public convenience init(enabled: Bool = true) {
        self.init(enabled: enabled, clock: { DispatchTime.now().uptimeNanoseconds })
    }

    init(enabled: Bool, clock: @escaping @Sendable () -> UInt64) {
        self.enabled = enabled
        self.interactive = isatty(2) == 1
        self.clock = clock
    }

    /// Reports `done` of `total` for `stage`; the final call (done == total) always prints.
    public func report(_ stage: String, _ done: Int, _ total: Int, detail: String = "") {
        guard enabled else { return }
        let line: String? = state.withLock { state in
            // The time is read under the lock that orders the stored times: read before it, a
            // thread could hold an earlier time than the one another thread just stored.
            let now = clock()
            let finished = done >= total
            let interval: UInt64 = interactive ? 250_000_000 : 5_000_000_000
            // Signed-safe even so: a time behind the stored one is "no time has passed".
            let sinceLast = now > state.lastPrint ? now - state.lastPrint : 0
            guard finished || stage != state.lastStage || sinceLast > interval else { return nil }
            state.lastPrint = now
            state.lastStage = stage
            let percent = total > 0 ? 100 * done / total : 100
            let text = "\(stage): \(done)/\(total) (\(percent)%)\(detail.isEmpty ? "" : " " + detail)"
            return interactive ? "\r\(text)\(finished ? "\n" : "")" : text + "\n"
        }
        if let line { FileHandle.standardError.write(Data(line.utf8)) }
    }

    /// A one-off message on standard error.
    public func note(_ message: String) {
        guard enabled else { return }
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }
}

import Foundation

/// One thread at the lowest scheduling priority (`lowerThisThreadsPriority`) that runs bulk work, such as moving
/// a shard's entries, so that it takes only the CPU that searches leave idle. Callers wait for
/// their job (`run`) or leave it queued (`submit`); jobs run one at a time, in order.
public final class BackgroundLane: @unchecked Sendable {
    // Safe: `jobs` is guarded by `condition`.
    private let condition = NSCondition()
    private var jobs: [Job] = []

    private struct Job {
        let body: () -> Void
        let done: DispatchSemaphore?
    }

    public init(name: String) {
        let thread = Thread { [condition] in
            lowerThisThreadsPriority()
            while true {
                condition.lock()
                while self.jobs.isEmpty { condition.wait() }
                var job: Job? = self.jobs.removeFirst()
                condition.unlock()
                job?.body()
                // The job (and what it captured) is released before its caller wakes: a caller
                // may lend it something that must not outlive the call.
                let done = job!.done
                job = nil
                done?.signal()
            }
        }
        thread.name = name
        thread.start()
    }

    /// Runs `body` on the lane and returns its result (or rethrows its error).
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) throws -> T {
        let done = DispatchSemaphore(value: 0)
        let result = ResultBox<T>()
        condition.lock()
        jobs.append(Job(body: { result.value = Result { try body() } }, done: done))
        condition.signal()
        condition.unlock()
        done.wait()
        return try result.value!.get()
    }

    /// Queues `body` behind the lane's jobs without waiting for it.
    public func submit(_ body: @escaping @Sendable () -> Void) {
        condition.lock()
        jobs.append(Job(body: body, done: nil))
        condition.signal()
        condition.unlock()
    }
}

/// Puts the calling thread in Linux's SCHED_IDLE class: it runs only on a core nothing else
/// wants, and a waking search preempts it at once. Where that is refused the thread takes the
/// lowest nice value instead (Linux applies `setpriority(PRIO_PROCESS, 0, …)` to the calling
/// thread only); failing both, the work runs at normal priority.
public func lowerThisThreadsPriority() {
    var parameters = sched_param()
    parameters.sched_priority = 0
    // SCHED_IDLE is 5 in Linux's <sched.h>, where Swift does not see it (it sits behind _GNU_SOURCE).
    let schedIdle: Int32 = 5
    if pthread_setschedparam(pthread_self(), schedIdle, &parameters) != 0 {
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 19)
    }
}

/// Hands a result from the lane's thread to the waiting caller (the semaphore orders the accesses).
private final class ResultBox<T>: @unchecked Sendable {
    var value: Result<T, any Error>?
}

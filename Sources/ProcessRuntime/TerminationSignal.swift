import Foundation

/// SIGINT and SIGTERM, caught from the moment this is made: a service makes it before it starts
/// serving and `wait`s once it serves, so a signal that arrives in between is kept, not lost.
///
/// Why not a Dispatch signal source: it needs the default action turned off (`SIG_IGN`) and
/// registers its own handler asynchronously after `resume`, so a signal in between is discarded.
/// A unit-file test hit that window: its SIGTERM came 5 ms after "listening", and the coordinator
/// never stopped. Here the handler is installed synchronously and only posts a POSIX semaphore
/// (async-signal-safe); the waiting thread does the rest. SIGPIPE is ignored (nng sends with
/// MSG_NOSIGNAL; this is for any other pipe).
public struct TerminationSignal: Sendable {
    public init() {
        // Created before the handler can run: the handler must not be the first to touch it.
        _ = terminationPosts
        signal(SIGPIPE, SIG_IGN)
        var stops = sigset_t()
        sigemptyset(&stops)
        for number in [SIGINT, SIGTERM] {
            signal(number) { _ in sem_post(terminationPosts) }
            sigaddset(&stops, number)
        }
        // A parent may have started us with these signals blocked (a test runner does): they
        // would stay pending forever. This thread (and every thread it starts) takes them.
        pthread_sigmask(SIG_UNBLOCK, &stops, nil)
    }

    /// Blocks until SIGINT or SIGTERM has arrived (at once if one arrived since `init`).
    public func wait() {
        while sem_wait(terminationPosts) != 0 {}  // EINTR: another signal's handler ran; wait on
    }
}

/// Posted once per SIGINT or SIGTERM by the handler above (set up once, never freed).
nonisolated(unsafe) private let terminationPosts: UnsafeMutablePointer<sem_t> = {
    let semaphore = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)
    sem_init(semaphore, 0, 0)
    return semaphore
}()

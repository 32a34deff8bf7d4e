import Foundation

/// Blocks the main thread until SIGINT or SIGTERM, then returns so the caller can close its
/// sockets and stores in order. SIGPIPE is ignored (nng sends with MSG_NOSIGNAL; this is for any
/// other pipe).
public func waitForTerminationSignal() {
    signal(SIGPIPE, SIG_IGN)
    let semaphore = DispatchSemaphore(value: 0)
    var sources: [any DispatchSourceSignal] = []
    for number in [SIGINT, SIGTERM] {
        signal(number, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
        source.setEventHandler { semaphore.signal() }
        source.resume()
        sources.append(source)
    }
    semaphore.wait()
    withExtendedLifetime(sources) {}
}

import ClusterClient
import ClusterModel
import Dispatch
import ProcessRuntime
import ServiceSupport
import Synchronization
import Transport
import VectorMath
import Wire

/// The coordinator's side of its links to workers: one client per worker URL, a breaker per
/// worker, the requests in flight per worker, and the three ways calls go out: all at once
/// (`call`), a replicated write's copies with the straggler rule (`collectWrites`), and reads
/// hedged across copies (`hedgedRead`). It knows URLs and shards, not the shard map: callers
/// name the copies. Time comes from `clock`, so tests drive breakers, hedging and stragglers.
///
/// Locks: `clients`, `breakers` and `outstanding` are each taken alone, never while another
/// coordinator lock is held by this type (see the lock order in Coordinator.swift).
final class WorkerPool: Sendable {
    let clock: any MonotonicClock
    private let token: String
    private let dial: @Sendable (String) throws -> any Connection
    private let log: @Sendable (String) -> Void
    /// How the log names a worker of a shard ("shard 1", "shard 1's replica at tcp://…").
    private let describe: @Sendable (ShardID, String) -> String
    private let clients = Mutex<[String: ServiceClient]>([:])
    private let breakers = Mutex<[String: Breaker]>([:])
    /// Requests in flight per worker URL (reads go to the copy with the fewest).
    private let outstanding = Mutex<[String: Int]>([:])
    /// Round trips of reads to replicated shards: the hedging delay is a percentile of them.
    let replicaReadLatency = LatencyRecorder(capacity: 2000)

    init(token: String, clock: any MonotonicClock, dial: @escaping @Sendable (String) throws -> any Connection,
         log: @escaping @Sendable (String) -> Void, describe: @escaping @Sendable (ShardID, String) -> String) {
        self.token = token
        self.clock = clock
        self.dial = dial
        self.log = log
        self.describe = describe
    }

    /// The client of the worker at `url`, dialled on first use.
    func client(at url: String) throws -> ServiceClient {
        try clients.withLock { clients in
            if let existing = clients[url] { return existing }
            // The coordinator enforces each deadline itself: no margin beyond it.
            let client = ServiceClient(connection: try dial(url), token: token, replyMarginMilliseconds: 0)
            clients[url] = client
            return client
        }
    }

    /// A client of the worker at `url` outside the pool (a worker asked whether it may join: it
    /// gets the default reply margin, and no pooled link is left behind if it may not).
    func unpooledClient(at url: String) throws -> ServiceClient {
        ServiceClient(connection: try dial(url), token: token)
    }

    // MARK: Breakers and load

    /// True when the breaker of the worker at `url` is open.
    func isSkipped(_ url: String) -> Bool { breakers.withLock { $0[url]?.isOpen == true } }

    /// True when every one of `urls` is skipped by an open breaker.
    func areAllSkipped(_ urls: [String]) -> Bool { breakers.withLock { breakers in urls.allSatisfy { breakers[$0]?.isOpen == true } } }

    /// `copies` the least busy first, those behind open breakers last (ties keep their order).
    func rank(_ copies: [String]) -> [String] {
        guard copies.count > 1 else { return copies }
        let open = breakers.withLock { breakers in Set(copies.filter { breakers[$0]?.isOpen == true }) }
        let busy = outstanding.withLock { $0 }
        return copies.enumerated().sorted { a, b in
            let keyA = (open.contains(a.element) ? 1 : 0, busy[a.element] ?? 0, a.offset)
            let keyB = (open.contains(b.element) ? 1 : 0, busy[b.element] ?? 0, b.offset)
            return keyA < keyB
        }.map(\.element)
    }

    /// Feeds a reply to the worker's breaker and logs when the breaker opens or closes.
    func record(_ reply: Result<ResponseBody, ClientError>, from call: WorkerCall, probe: Bool) {
        var answered = true
        if case .failure(.transport(let error, _)) = reply {
            // A slow call (a short client deadline, a bulk step queued on the idle lane)
            // proves nothing: only the probe's timeouts count.
            if case .timedOut = error, !probe { return }
            answered = false
        }
        let now = clock.now()
        let change = breakers.withLock { breakers -> (opened: Bool, closed: Bool) in
            let wasOpen = breakers[call.url]?.isOpen ?? false
            breakers[call.url, default: Breaker()].record(answered: answered, at: now)
            let isOpen = breakers[call.url]!.isOpen
            return (!wasOpen && isOpen, wasOpen && !isOpen)
        }
        // Named only when the breaker changed (rare): replies on the query path pay nothing for it.
        guard change.opened || change.closed else { return }
        let name = describe(call.shard, call.url)
        log(change.opened ? "\(name) stopped answering: requests skip it until a health probe gets an answer" : "\(name) answers again")
    }

    /// The refusals of calls to workers whose breaker is open (none for a probe), by position.
    private func refusals(_ calls: [WorkerCall], probe: Bool) -> [Int: ErrorReply] {
        guard !probe else { return [:] }
        let open = breakers.withLock { $0.compactMapValues(\.openedAt) }
        guard !open.isEmpty else { return [:] }
        let now = clock.now()
        var refused: [Int: ErrorReply] = [:]
        for (position, call) in calls.enumerated() {
            if let openedAt = open[call.url] { refused[position] = Breaker.refusal(call.shard, openedAt: openedAt, now: now) }
        }
        return refused
    }

    // MARK: Calls

    /// Sends every call at once and collects each reply or failure in order. A worker whose
    /// breaker is open gets no call (its failure is reported at once) unless `probe` is set: the
    /// health loop's probes go through, and an answer closes the breaker. `timed` is told each
    /// answered call's shard and when the calls went out.
    func call(_ calls: [WorkerCall], deadlineMilliseconds: Int, probe: Bool = false,
              timed: ((ShardID, UInt64) -> Void)? = nil) -> [Result<ResponseBody, ErrorReply>] {
        var results = [Result<ResponseBody, ErrorReply>?](repeating: nil, count: calls.count)
        for (position, refusal) in refusals(calls, probe: probe) { results[position] = .failure(refusal) }
        var pending: [(position: Int, call: PendingCall)] = []
        for (position, call) in calls.enumerated() where results[position] == nil {
            do {
                let client = try client(at: call.url)
                pending.append((position, client.start(call.body, deadlineMilliseconds: deadlineMilliseconds, sequence: call.sequence)))
            } catch {
                results[position] = .failure(ErrorReply(.unavailable,
                                                        "shard \(call.shard): cannot dial its worker at \(call.url): \(error)"))
            }
        }
        let started = clock.now()
        for (position, call) in pending {
            let reply = call.wait()
            if !probe { timed?(calls[position].shard, started) }
            record(reply, from: calls[position], probe: probe)
            results[position] = reply.mapError(\.reply)
        }
        return results.map { $0! }
    }

    /// Sends a replicated write's calls at once and waits for the replies. `groups` are the
    /// positions of each shard's copies: once one copy of a group applied the write, the others
    /// get `stragglerMilliseconds` more (`StragglerRule`): a hung copy costs one write that long,
    /// not the whole deadline (it leaves the in-sync set).
    func collectWrites(_ calls: [WorkerCall], groups: [[Int]], deadlineMilliseconds: Int,
                       stragglerMilliseconds: Int = 1000) -> [Result<ResponseBody, ErrorReply>] {
        let round = HedgedRound()
        var results = [Result<ResponseBody, ErrorReply>?](repeating: nil, count: calls.count)
        for (position, refusal) in refusals(calls, probe: false) { results[position] = .failure(refusal) }
        for (position, call) in calls.enumerated() where results[position] == nil {
            guard let client = try? client(at: call.url) else {
                results[position] = .failure(ErrorReply(.unavailable, "shard \(call.shard): cannot dial its worker at \(call.url)"))
                continue
            }
            let pending = client.start(call.body, deadlineMilliseconds: deadlineMilliseconds, sequence: call.sequence)
            var tagged = call
            tagged.position = position
            let sent = tagged
            DispatchQueue.global().async { round.deliver(sent, pending.wait()) }
        }
        var rule = StragglerRule(groups: groups, end: clock.deadline(afterMilliseconds: deadlineMilliseconds),
                                 graceMilliseconds: stragglerMilliseconds)
        for position in results.indices where results[position] != nil { rule.arrived(position, applied: false, at: clock.now()) }
        while !rule.isSettled(at: clock.now()) {
            if !clock.wait(for: round.signal, until: rule.wake(at: clock.now())) {
                if clock.now() >= rule.end { break }
                continue
            }
            guard let (call, reply) = round.take() else { continue }
            record(reply, from: call, probe: false)
            results[call.position] = reply.mapError(\.reply)
            if case .success = reply { rule.arrived(call.position, applied: true, at: clock.now()) } else {
                rule.arrived(call.position, applied: false, at: clock.now())
            }
        }
        return results.enumerated().map { position, result in
            result ?? .failure(ErrorReply(.deadlineExceeded, "shard \(calls[position].shard)'s worker at \(calls[position].url) "
                                                             + "did not answer in time"))
        }
    }

    /// The hedging delay: 20 ms until 20 replica reads were timed, then their 95th percentile, at least 2 ms.
    var hedgeDelayMilliseconds: Double {
        let summary = replicaReadLatency.summary()
        return summary.count < 20 ? 20 : max(2, summary.p95)
    }

    /// One body per shard, read from one copy each: `copies(shard)` names the copies that may
    /// serve, best first, at the moment it is asked. A copy that fails, or has not answered
    /// within the hedging delay, is backed up by the next copy; the first answer wins.
    func hedgedRead(_ bodies: [ShardID: RequestBody], deadlineMilliseconds: Int,
                    copies: (ShardID) -> [String]) -> [ShardID: Result<ResponseBody, ErrorReply>] {
        let round = HedgedRound()
        let started = clock.now()
        let end = clock.deadline(afterMilliseconds: deadlineMilliseconds)
        var waiting = Set(bodies.keys), tried: [ShardID: [String]] = [:], inFlight: [ShardID: Int] = [:]
        var results: [ShardID: Result<ResponseBody, ErrorReply>] = [:]
        func send(_ shard: ShardID) -> Bool {
            let now = clock.now()
            guard now < end, let url = copies(shard).first(where: { !(tried[shard] ?? []).contains($0) }) else { return false }
            tried[shard, default: []].append(url)
            inFlight[shard, default: 0] += 1
            var call = WorkerCall(shard: shard, url: url, body: bodies[shard]!)
            let remaining = max(1, Int((end - now) / 1_000_000))
            guard !isSkipped(url), let client = try? client(at: url) else {
                // Not sent: no reply to feed its breaker with (position −1 says so).
                call.position = -1
                round.deliver(call, .failure(.server(ErrorReply(.unavailable, "shard \(shard)'s replica at \(url) is not answering"))))
                return true
            }
            outstanding.withLock { $0[url, default: 0] += 1 }
            let pending = client.start(call.body, deadlineMilliseconds: remaining)
            let sent = call
            DispatchQueue.global().async { [self] in
                let reply = pending.wait()
                outstanding.withLock { $0[url, default: 1] -= 1 }
                round.deliver(sent, reply)
            }
            return true
        }
        for shard in bodies.keys.sorted() where !send(shard) {
            results[shard] = .failure(ErrorReply(.unavailable, "shard \(shard) has no replica in sync"))
            waiting.remove(shard)
        }
        var hedged = false
        let hedgeAt = started.saturatingAdd(UInt64(hedgeDelayMilliseconds * 1_000_000))
        while !waiting.isEmpty {
            if !clock.wait(for: round.signal, until: hedged ? end : min(hedgeAt, end)) {
                if clock.now() >= end { break }
                hedged = true
                for shard in waiting.sorted() where copies(shard).count > 1 { _ = send(shard) }
                continue
            }
            guard let (call, reply) = round.take() else { continue }
            inFlight[call.shard, default: 1] -= 1
            if call.position >= 0 { record(reply, from: call, probe: false) }
            guard waiting.contains(call.shard) else { continue }
            var final = false
            switch reply {
            case .success:
                // The delay is learnt from first attempts only (a hedge's time would feed on itself).
                if tried[call.shard]?.count == 1 { replicaReadLatency.record(seconds: clock.seconds(since: started)) }
                final = true
            case .failure(.server(let error)) where error.code == .badRequest:
                final = true  // every copy would refuse it alike
            case .failure:
                final = false
            }
            results[call.shard] = reply.mapError(\.reply)
            if final || (!send(call.shard) && inFlight[call.shard, default: 0] == 0) { waiting.remove(call.shard) }
        }
        for shard in waiting where results[shard] == nil {
            results[shard] = .failure(ErrorReply(.deadlineExceeded,
                                                 "shard \(shard): no replica answered within \(deadlineMilliseconds) ms"))
        }
        return results
    }
}

/// The replies of one round of calls as they arrive (abandoned attempts deliver into it later).
final class HedgedRound: Sendable {
    let signal = DispatchSemaphore(value: 0)
    private let arrived = Mutex<[(WorkerCall, Result<ResponseBody, ClientError>)]>([])

    func deliver(_ call: WorkerCall, _ reply: Result<ResponseBody, ClientError>) {
        arrived.withLock { $0.append((call, reply)) }
        signal.signal()
    }

    func take() -> (WorkerCall, Result<ResponseBody, ClientError>)? {
        arrived.withLock { $0.isEmpty ? nil : $0.removeFirst() }
    }
}

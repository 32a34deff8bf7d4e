import ClusterClient
import ClusterModel
import Dispatch
import Foundation
import ShardStore
import Synchronization
import VectorMath
import Wire

/// Replicated shards: reads go to one in-sync copy (the least busy), hedged to another when the
/// first is slow or fails; writes are numbered per shard and go to every in-sync copy; a copy
/// that fails a write leaves the in-sync set and catches up before it serves again.
extension Coordinator {
    func isReplicated(_ shard: ShardID) -> Bool { routing.withLock { $0.replicas(of: shard).count > 1 } }

    /// Copies of `shard` that may serve, the least busy first (open breakers last).
    func servingReplicas(of shard: ShardID) -> [String] {
        let copies = routing.withLock { $0.replicas(of: shard) }.filter { $0.state == ReplicaState.inSync }.map(\.url)
        // One copy (every shard of an unreplicated cluster): nothing to rank.
        guard copies.count > 1 else { return copies }
        let open = breakers.withLock { breakers in Set(copies.filter { breakers[$0]?.isOpen == true }) }
        let busy = outstanding.withLock { $0 }
        return copies.enumerated().sorted { a, b in
            let keyA = (open.contains(a.element) ? 1 : 0, busy[a.element] ?? 0, a.offset)
            let keyB = (open.contains(b.element) ? 1 : 0, busy[b.element] ?? 0, b.offset)
            return keyA < keyB
        }.map(\.element)
    }

    /// The copy a single call goes to. A replicated shard with no copy in sync has none: a copy
    /// that is catching up (or came back emptied) must not answer for the shard.
    func preferredReplica(of shard: ShardID) -> String? {
        if let first = servingReplicas(of: shard).first { return first }
        let copies = routing.withLock { $0.replicas(of: shard) }
        return copies.count == 1 ? copies[0].url : nil
    }

    /// The hedging delay: 20 ms until 20 replica reads were timed, then their 95th percentile, at least 2 ms.
    var hedgeDelayMilliseconds: Double {
        let summary = replicaReadLatency.summary()
        return summary.count < 20 ? 20 : max(2, summary.p95)
    }

    /// One body per shard, read from one copy each. For replicated shards a copy that fails, or
    /// has not answered within the hedging delay, is backed up by the next copy; the first
    /// answer wins.
    func readFanOut(_ bodies: [ShardID: RequestBody], deadlineMilliseconds: Int) -> [ShardID: Result<ResponseBody, ErrorReply>] {
        // An unreplicated cluster (one lock to tell) takes the plain fan-out straight away.
        guard routing.withLock({ $0.isReplicated }), bodies.keys.contains(where: { servingReplicas(of: $0).count > 1 }) else { return fanOut(bodies, deadlineMilliseconds: deadlineMilliseconds) }
        let round = HedgedRound()
        let started = DispatchTime.now()
        let end = started + .milliseconds(deadlineMilliseconds)
        var waiting = Set(bodies.keys), tried: [ShardID: [String]] = [:], inFlight: [ShardID: Int] = [:]
        var results: [ShardID: Result<ResponseBody, ErrorReply>] = [:]
        func send(_ shard: ShardID) -> Bool {
            let now = DispatchTime.now().uptimeNanoseconds
            guard now < end.uptimeNanoseconds,
                  let url = servingReplicas(of: shard).first(where: { !(tried[shard] ?? []).contains($0) }) else { return false }
            tried[shard, default: []].append(url)
            inFlight[shard, default: 0] += 1
            var call = WorkerCall(shard: shard, url: url, body: bodies[shard]!)
            let remaining = max(1, Int((end.uptimeNanoseconds - now) / 1_000_000))
            guard breakers.withLock({ $0[url]?.isOpen != true }), let client = try? client(at: url) else {
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
        let hedgeAt = started + .microseconds(Int(hedgeDelayMilliseconds * 1000))
        while !waiting.isEmpty {
            if round.signal.wait(timeout: hedged ? end : min(hedgeAt, end)) == .timedOut {
                if DispatchTime.now() >= end { break }
                hedged = true
                for shard in waiting.sorted() where isReplicated(shard) { _ = send(shard) }
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
                if tried[call.shard]?.count == 1 {
                    replicaReadLatency.record(seconds: secondsElapsed(since: started.uptimeNanoseconds))
                }
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
            results[shard] = .failure(ErrorReply(.deadlineExceeded, "shard \(shard): no replica answered within \(deadlineMilliseconds) ms"))
        }
        return results
    }
}

/// The replies of one hedged read as they arrive (abandoned attempts deliver into it later).
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

/// The states a replica is recorded in.
enum ReplicaState {
    static let inSync = "in-sync"
    static let catchingUp = "catching-up"
    static let joining = "joining"
}

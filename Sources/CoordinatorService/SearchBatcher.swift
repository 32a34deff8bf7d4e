import Dispatch
import ServiceSupport
import Synchronization
import VectorMath
import Wire

/// Coalesces concurrent single-query searches with the same options into one batch per shard:
/// one frame, one centroid ranking and one scan call per shard for many queries. Two ways:
///
/// - *in flight* (`inFlightLimit` > 0): a search goes out at once while fewer than that many
///   searches or batches are in flight; otherwise it opens a batch, or joins the open one, and
///   the batch leaves as soon as one of those in flight answers (or when it holds `maxQueries`).
///   Nothing waits on a timer: a lone client never waits, and under load each message carries
///   the queries that arrived during one round trip.
/// - *window*: a search that arrives while no other is running goes out at once; one that
///   arrives while others run opens a batch, or joins the open one, and the batch leaves after
///   `window` or when it holds `maxQueries`.
///
/// Every query's answer is the one it would get alone: the merge is per query, and shards rank
/// and scan each query on its own.
final class SearchBatcher: Sendable {
    struct Key: Hashable { let k: Int, nprobe: Int, refine: Int, probeRatio: Float }

    /// One query waiting in a batch, and where its answer goes.
    final class Member: Sendable {
        let vector: [Float]
        let deadlineMilliseconds: Int
        let answered = DispatchSemaphore(value: 0)
        let answer = Mutex<Result<SearchReply, ErrorReply>?>(nil)
        init(vector: [Float], deadlineMilliseconds: Int) {
            self.vector = vector
            self.deadlineMilliseconds = deadlineMilliseconds
        }
    }

    /// The members of one batch while it is open.
    final class Batch: Sendable {
        let members = Mutex<[Member]>([])
        let full = DispatchSemaphore(value: 0)
    }

    /// How long an open batch waits for more queries, in nanoseconds of `clock`.
    let windowNanoseconds: UInt64
    let maxQueries: Int
    let clock: any MonotonicClock
    private let open = Mutex<[Key: Batch]>([:])
    private let running = Atomic<Int>(0)
    /// Places for searches in flight (nil: the window decides).
    private let slots: DispatchSemaphore?
    /// Batches sent and queries they held (for the log and the benchmark).
    let sent = Atomic<Int>(0)
    let coalesced = Atomic<Int>(0)

    init(windowMicroseconds: Int, inFlightLimit: Int = 0, maxQueries: Int = 32, clock: any MonotonicClock = SystemClock()) {
        windowNanoseconds = UInt64(max(0, windowMicroseconds)) * 1000
        self.maxQueries = maxQueries
        self.clock = clock
        slots = inFlightLimit > 0 ? DispatchSemaphore(value: inFlightLimit) : nil
    }

    /// Answers one query; `run` searches a batch of vectors (row-major) with `options`.
    func search(_ vector: [Float], _ options: SearchOptions, deadlineMilliseconds: Int,
                run: (VectorBatch, SearchOptions, Int) throws -> SearchReply) throws -> SearchReply {
        let busy = running.wrappingAdd(1, ordering: .acquiringAndReleasing).oldValue > 0
        defer { running.wrappingSubtract(1, ordering: .acquiringAndReleasing) }
        if let slots {
            if slots.wait(timeout: .now()) == .success {
                defer { slots.signal() }
                return try run(VectorBatch(dimension: vector.count, values: vector), options, deadlineMilliseconds)
            }
        } else if !busy {
            return try run(VectorBatch(dimension: vector.count, values: vector), options, deadlineMilliseconds)
        }
        let key = Key(k: options.k, nprobe: options.nprobe, refine: options.refine, probeRatio: options.probeRatio)
        let member = Member(vector: vector, deadlineMilliseconds: deadlineMilliseconds)
        // Join the open batch, or open one and lead it.
        let (batch, leads) = open.withLock { batches -> (Batch, Bool) in
            if let batch = batches[key] {
                let count = batch.members.withLock { $0.append(member); return $0.count }
                if count >= maxQueries {
                    batches[key] = nil
                    batch.full.signal()
                }
                return (batch, false)
            }
            let batch = Batch()
            batch.members.withLock { $0.append(member) }
            batches[key] = batch
            return (batch, true)
        }
        if leads {
            var holdsSlot = false
            if let slots {
                // The batch grows until a search in flight answers; past the deadline it goes anyway.
                holdsSlot = slots.wait(timeout: .now() + .milliseconds(deadlineMilliseconds)) == .success
            } else {
                _ = clock.wait(for: batch.full, until: clock.now().saturatingAdd(windowNanoseconds))
            }
            open.withLock { batches in if batches[key] === batch { batches[key] = nil } }
            let members = batch.members.withLock { $0 }
            send(members, options, run: run)
            if holdsSlot { slots?.signal() }
        }
        _ = member.answered.wait(timeout: .now() + .milliseconds(deadlineMilliseconds + 1000))
        guard let answer = member.answer.withLock({ $0 }) else {
            throw ErrorReply(.deadlineExceeded, "the batch holding this search did not finish within \(deadlineMilliseconds) ms")
        }
        return try answer.get()
    }

    /// Searches the members as one batch and hands each its own answer.
    private func send(_ members: [Member], _ options: SearchOptions, run: (VectorBatch, SearchOptions, Int) throws -> SearchReply) {
        sent.add(1, ordering: .relaxed)
        coalesced.add(members.count, ordering: .relaxed)
        let dimension = members[0].vector.count
        let deadline = members.map(\.deadlineMilliseconds).min()!
        let result = Result { () throws -> SearchReply in
            // Each query's products on their own: its answer equals the one it gets alone.
            var apart = options
            apart.queriesApart = true
            let reply = try run(VectorBatch(dimension: dimension, values: members.flatMap(\.vector)), apart, deadline)
            guard reply.results.count == members.count else {
                throw ErrorReply(.internalError, "a batch of \(members.count) queries got \(reply.results.count) answers")
            }
            return reply
        }.mapError { $0 as? ErrorReply ?? ErrorReply(.internalError, "\($0)") }
        for (row, member) in members.enumerated() {
            member.answer.withLock { answer in
                answer = result.map { reply in
                    SearchReply(results: [reply.results[row]], partial: reply.partial, missingShards: reply.missingShards)
                }
            }
            member.answered.signal()
        }
    }
}

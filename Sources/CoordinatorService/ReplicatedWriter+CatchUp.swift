import ClusterModel
import Foundation
import ShardStore
import VectorMath
import Wire

/// A copy that missed writes (down, cut off, new) catches up from an in-sync peer, through the
/// coordinator: the writes after its last one (by sequence number), or the whole shard when the
/// peer's log does not reach back that far; then, with the shard's writes held, the last pages
/// and a digest of every list on both sides. Only then does it serve again.
extension ReplicatedWriter {
    /// Starts one catch-up thread for the copies that need it and can take it: `isReady` tells
    /// which can (reachable, codebooks held, as the health loop saw them).
    func startCatchUps(isReady: (String) -> Bool) {
        let ready = directory.withLock { route in route.replicaSets.values.flatMap { $0 } }
            .filter { $0.state != ReplicaState.inSync && isReady($0.url) }
        guard !ready.isEmpty, catchUpRunning.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return }
        let thread = Thread { [self] in
            defer { catchUpRunning.store(false, ordering: .releasing) }
            for copy in ready where !stopping.load(ordering: .relaxed) { catchUp(copy) }
        }
        thread.name = "sightline-catch-up"
        thread.start()
    }

    func catchUp(_ copy: ReplicaRecord) {
        let shard = ShardID(copy.shard)
        guard let peer = shardCalls.servingReplicas(of: shard).first(where: { $0 != copy.url }) else {
            log("shard \(shard)'s replica at \(copy.url) cannot catch up: no other replica is in sync")
            return
        }
        let started = DispatchTime.now()
        var copied = 0
        do {
            guard case .health(let health) = try shardCalls.callOne(shard, copy.url, .health),
                  case .health(let source) = try shardCalls.callOne(shard, peer, .health) else {
                throw ErrorReply(.internalError, "a health reply was not a health report")
            }
            let acknowledged = try catalog.committedSeq(shard: shard.rawValue)
            guard source.lastSeq >= acknowledged else {
                throw ErrorReply(.unavailable, "\(peer) holds writes up to \(source.lastSeq), below the last acknowledged write "
                                               + "\(acknowledged): it cannot be the source")
            }
            if health.lastSeq > source.lastSeq {
                // Above the last acknowledged write, so never acknowledged: a write this copy
                // applied alone before it was cut off. The peer's history wins.
                log("shard \(shard)'s replica at \(copy.url) holds writes up to \(health.lastSeq), \(peer) up to "
                    + "\(source.lastSeq) (acknowledged: \(acknowledged)); the unacknowledged writes are replaced")
            }
            var last = health.lastSeq
            var full = copy.state == ReplicaState.joining || fullCopies.withLock { $0.contains(copy.url) }
            if !full {
                do { try replayLog(shard, from: peer, to: copy.url, after: &last, copied: &copied) } catch let error as ErrorReply
                    where error.code == .notFound { full = true }
            }
            if full {
                log("shard \(shard)'s replica at \(copy.url): copying the whole shard from \(peer)")
                last = try copyWholeShard(shard, from: peer, to: copy.url, copied: &copied)
                try replayLog(shard, from: peer, to: copy.url, after: &last, copied: &copied)
            }
            // The last pages and the check run with the shard's writes held: nothing moves meanwhile.
            try withShardLocks([shard]) {
                try closeCatchUp(copy, from: peer, after: last, copied: copied, started: started)
            }
        } catch {
            // A refusal (a page too large, a malformed page) will not pass by retrying the log:
            // the next round copies the whole shard, in bounded pages.
            if let reply = error as? ErrorReply, reply.code == .badRequest || reply.code == .internalError {
                fullCopies.withLock { _ = $0.insert(copy.url) }
            }
            log("shard \(shard)'s replica at \(copy.url): catch-up from \(peer) stopped (\(error)); the health loop retries")
        }
    }

    /// The catch-up's last pages and the check of every list on both sides, with the shard's
    /// writes held; the copy serves again only when both sides are equal.
    private func closeCatchUp(_ copy: ReplicaRecord, from peer: String, after applied: UInt64, copied alreadyCopied: Int,
                              started: DispatchTime) throws {
        let shard = ShardID(copy.shard)
        var last = applied, copied = alreadyCopied
        // The peer must still be in sync and hold the last committed write (it may have
        // missed one meanwhile); the final steps get short deadlines (writes wait for them).
        guard shardCalls.servingReplicas(of: shard).contains(peer) else {
            throw ErrorReply(.unavailable, "\(peer) left the in-sync set during the catch-up")
        }
        try replayLog(shard, from: peer, to: copy.url, after: &last, copied: &copied, deadlineMilliseconds: 10_000)
        guard case .replicaPull(let theirs) = try shardCalls.callOne(shard, peer, .replicaPull(.digest), deadlineMilliseconds: 10_000),
              case .replicaPull(let mine) = try shardCalls.callOne(shard, copy.url, .replicaPull(.digest),
                                                                   deadlineMilliseconds: 10_000) else {
            throw ErrorReply(.internalError, "a digest reply was not a replica page")
        }
        if let committed = sequences.withLock({ $0[shard]?.lastCommitted }), committed != theirs.lastSeq {
            throw ErrorReply(.unavailable, "\(peer) has applied write \(theirs.lastSeq), the shard committed \(committed)")
        }
        // Never a source that lacks an acknowledged write (it would overwrite the copy with less).
        let acknowledged = try catalog.committedSeq(shard: shard.rawValue)
        guard theirs.lastSeq >= acknowledged else {
            throw ErrorReply(.unavailable, "\(peer) holds writes up to \(theirs.lastSeq), below the last acknowledged write "
                                           + "\(acknowledged): it cannot be the source")
        }
        let entries = { (page: ReplicaPage) in page.listCounts.reduce(UInt64(0)) { $0 &+ UInt64($1) } }
        guard theirs.listCounts == mine.listCounts, theirs.listDigests == mine.listDigests, theirs.lastSeq == mine.lastSeq else {
            fullCopies.withLock { _ = $0.insert(copy.url) }
            log("shard \(shard)'s replica at \(copy.url) differs from \(peer) after catching up (\(entries(mine)) "
                + "against \(entries(theirs)) entries, writes \(mine.lastSeq) against \(theirs.lastSeq)); "
                + "it copies the whole shard next")
            return
        }
        fullCopies.withLock { _ = $0.remove(copy.url) }
        // It serves by its peer's placements, or not at all: a placement push runs before this
        // (and reached the peer) or after (and reaches this copy as an in-sync one).
        // Tried, not waited for: a push can take minutes, and this copy's shard's writes wait here.
        let entered: Bool? = try placementPushes.withLockIfAvailable { _ in
            guard case .health(let peerHealth) = try shardCalls.callOne(shard, peer, .health, deadlineMilliseconds: 10_000),
                  case .health(let copyHealth) = try shardCalls.callOne(shard, copy.url, .health, deadlineMilliseconds: 10_000) else {
                throw ErrorReply(.internalError, "a health reply was not a health report")
            }
            guard (copyHealth.mapVersion, copyHealth.pendingMapVersion) == (peerHealth.mapVersion, peerHealth.pendingMapVersion) else {
                throw ErrorReply(.unavailable, "it serves by maps \(copyHealth.mapVersion)/\(copyHealth.pendingMapVersion), "
                                               + "\(peer) by \(peerHealth.mapVersion)/\(peerHealth.pendingMapVersion); the health "
                                               + "loop sends it the placements")
            }
            try setReplicaState(shard, url: copy.url, ReplicaState.inSync)
            return true
        }
        guard entered != nil else {
            throw ErrorReply(.unavailable, "a placement push is running; the copy enters the in-sync set on the next round")
        }
        // A copy that replaces another (drain-host, add-worker --replace of a live copy): the
        // other leaves only now, so the shard never had fewer copies in sync than before.
        if let replaced = try catalog.replacement(shard: shard.rawValue, url: copy.url), !replaced.isEmpty {
            try removeCopy(shard, url: replaced)
            log("shard \(shard)'s replica at \(replaced) left the shard: \(copy.url) replaces it and is in sync")
        }
        let seconds = secondsElapsed(since: started.uptimeNanoseconds)
        log("shard \(shard)'s replica at \(copy.url) caught up from \(peer): \(copied) entries in "
            + String(format: "%.2f s (%.0f/s)", seconds, Double(copied) / max(seconds, 1e-9))
            + "; \(entries(theirs)) entries, digests equal; it serves again")
    }

    /// Applies the peer's writes after `last` to the copy, page by page, until the peer has no more.
    /// Never paced: a paced replay could trail writes that arrive faster than the rate forever.
    func replayLog(_ shard: ShardID, from peer: String, to url: String, after last: inout UInt64, copied: inout Int,
                   deadlineMilliseconds: Int = 60_000) throws {
        while true {
            if stopping.load(ordering: .relaxed) { throw ErrorReply(.unavailable, "the coordinator is stopping") }
            let pull = RequestBody.replicaPull(.log(afterSeq: last, limit: ReplicaPull.maxPage))
            guard case .replicaPull(let page) = try shardCalls.callOne(shard, peer, pull, deadlineMilliseconds: deadlineMilliseconds) else {
                throw ErrorReply(.internalError, "a log reply was not a replica page")
            }
            if page.upToSeq <= last { return }
            guard case .replicaApply(let applied) = try shardCalls.callOne(shard, url, .replicaApply(
                ReplicaApply(entries: page.entries, absentIDs: page.absentIDs, upToSeq: page.upToSeq)),
                                                                deadlineMilliseconds: deadlineMilliseconds) else {
                throw ErrorReply(.internalError, "an apply reply was not a sequence number")
            }
            last = applied
            copied += page.entries.ids.count + page.absentIDs.count
        }
    }

    /// Waits until a page of `entries` begun at `started` has taken `entries / catchUpRate` seconds
    /// (a whole-shard copy's pages: the shard is finite, so a paced copy ends).
    func pace(started: UInt64, entries: Int) {
        let clock = shardCalls.pool.clock
        if let until = MovePacing.pageEnd(started: started, entries: entries, rate: catchUpRate.load(ordering: .relaxed)) {
            clock.sleep(until: until)
        }
    }

    /// Replaces the copy's contents with the peer's, page by page; returns the peer's last write
    /// when the copy began (its log is replayed from there).
    func copyWholeShard(_ shard: ShardID, from peer: String, to url: String, copied: inout Int) throws -> UInt64 {
        var cursor: UInt64?, start: UInt64 = 0, first = true
        var lastReport = DispatchTime.now()
        repeat {
            if stopping.load(ordering: .relaxed) { throw ErrorReply(.unavailable, "the coordinator is stopping") }
            let started = shardCalls.pool.clock.now()
            let pull = RequestBody.replicaPull(.full(afterID: cursor, limit: ReplicaPull.maxPage))
            guard case .replicaPull(let page) = try shardCalls.callOne(shard, peer, pull) else {
                throw ErrorReply(.internalError, "a copy reply was not a replica page")
            }
            if first { start = page.lastSeq }
            _ = try shardCalls.callOne(shard, url, .replicaApply(ReplicaApply(entries: page.entries, upToSeq: start, reset: first)))
            first = false
            copied += page.entries.ids.count
            cursor = page.nextAfterID
            pace(started: started, entries: page.entries.ids.count)
            if secondsElapsed(since: lastReport.uptimeNanoseconds) > 2 {
                log("shard \(shard)'s replica at \(url): \(copied) entries copied")
                lastReport = DispatchTime.now()
            }
        } while cursor != nil
        return start
    }
}

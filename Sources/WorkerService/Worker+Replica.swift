import ClusterModel
import ShardStore
import VectorIndex
import VectorMath
import Wire

/// Replication: writes numbered by the coordinator, and the pages a replica that missed some
/// pulls from a peer (through the coordinator) to catch up.
extension Worker {
    /// Refuses a numbered write that does not follow the last one applied here (the caller holds
    /// `writeLock`): a replica that missed a write must catch up before it takes more.
    func admit(_ sequence: WriteSequence?) throws {
        guard let sequence else { return }
        let last = appliedSeq.withLock { $0 }
        guard sequence.seq > last else {
            throw ErrorReply(.conflict, "shard \(settings.shard) already applied write \(sequence.seq) (last applied \(last))")
        }
        guard sequence.previous == last else {
            throw ErrorReply(.conflict, "shard \(settings.shard) is behind: it last applied write \(last), write \(sequence.seq) "
                                        + "follows \(sequence.previous); it catches up from a peer")
        }
    }

    /// A page for a replica that catches up, read under the write lock (one consistent view).
    func pull(_ request: ReplicaPull) throws -> ReplicaPage {
        try writeLock.withLock { _ in
            let current = try snapshot()
            let last = appliedSeq.withLock { $0 }
            switch request {
            case .log(let afterSeq, let limit):
                guard let (ids, upTo) = try store.loggedIDs(afterSeq: afterSeq, limit: limit) else {
                    throw ErrorReply(.notFound, "shard \(settings.shard)'s log does not reach back to write \(afterSeq): copy in full")
                }
                let held = try store.entries(ids)
                let heldIDs = Set(held.map(\.id))
                return ReplicaPage(entries: transfer(held, version: current.version), absentIDs: ids.filter { !heldIDs.contains($0) },
                                   upToSeq: upTo, lastSeq: last)
            case .full(let afterID, let limit):
                let step = try store.scan(after: afterID, limit: limit, scanLimit: limit) { _ in true }
                return ReplicaPage(entries: transfer(step.entries, version: current.version),
                                   nextAfterID: step.exhausted ? nil : step.last, lastSeq: last)
            case .digest:
                let (counts, digests) = listDigests(current) { part, _ in part != .unowned }
                return ReplicaPage(listCounts: counts, listDigests: digests, lastSeq: last)
            }
        }
    }

    /// Per list, the count and order-free digest of the entries `including` accepts (by part and
    /// id): a move's flow between two shards, or a replica's whole shard.
    func listDigests(_ current: ShardIndex, including: (EntryPart, UInt64) -> Bool) -> ([UInt32], [UInt64]) {
        let listCount = current.template.listCount, m = current.template.codeSize, dimension = current.template.dimension
        var counts = [UInt32](repeating: 0, count: listCount), digests = [UInt64](repeating: 0, count: listCount)
        current.forEachEntry { part, number, list, position in
            guard including(part, list.ids[position]) else { return }
            counts[number] += 1
            digests[number] &+= entryDigest(id: list.ids[position], code: list.codes[position * m ..< (position + 1) * m],
                                            vector: list.vectors.isEmpty
                                                ? [] : list.vectors[position * dimension ..< (position + 1) * dimension])
        }
        return (counts, digests)
    }

    /// Applies a page pulled from a peer: durable first, then the in-memory shard.
    func applyReplicaPage(_ page: ReplicaApply) throws -> UInt64 {
        try writeLock.withLock { _ in
            var next = try snapshot()
            guard page.entries.codebookVersion == next.version || page.entries.ids.isEmpty else {
                throw ErrorReply(.conflict, "page encoded with codebook \(String(page.entries.codebookVersion, radix: 16)), "
                                            + "shard holds \(String(next.version, radix: 16))")
            }
            let entries = try entries(of: page.entries, template: next.template)
            let absent = Set(page.absentIDs)
            guard absent.count == page.absentIDs.count, page.absentIDs.count <= ReplicaPull.maxPage * 16,
                  !entries.contains(where: { absent.contains($0.id) }) else {
                throw ErrorReply(.badRequest, "a replica page's absent ids must be distinct, at most \(ReplicaPull.maxPage * 16) "
                                              + "and none of its entries")
            }
            try store.applyReplicaPage(entries, absent: page.absentIDs, upToSeq: page.upToSeq, reset: page.reset)
            if page.reset {
                next = ShardIndex(version: next.version, template: next.template.emptyCopy, placement: next.placement)
            } else {
                next.remove(Set((entries.map(\.id) + page.absentIDs).map { VectorID($0) }))
            }
            let vectors = next.template.configuration.storesVectors
                ? try Matrix(dimension: next.template.dimension, values: entries.flatMap { $0.vector! }) : nil
            next.append(vectors, ids: entries.map { VectorID($0.id) }, lists: entries.map(\.list), codes: entries.flatMap(\.code))
            install(next)
            return appliedSeq.withLock { applied in
                if page.reset || page.upToSeq > applied { applied = page.upToSeq }
                return applied
            }
        }
    }
}

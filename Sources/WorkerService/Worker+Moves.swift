import ClusterModel
import Foundation
import ServiceSupport
import ShardStore
import VectorIndex
import VectorMath
import Wire

/// The worker's side of a move: placements from the coordinator, pages of leaving entries,
/// copies arriving, and the counts and digests that verify a copy.
extension Worker {
    /// Entries a move page carries at most.
    static let maxExportPage = 65_536
    /// Rows stepped over per read of an export's scan.
    static let exportScan = 65_536
    /// Unowned entries deleted per transaction in the background (short: adds wait for it).
    static let purgeBatch = 4_096

    /// Adopts the coordinator's placements. What a single placement leaves unowned (a finished
    /// move's leftovers) is never served and is deleted from the store in the background.
    func updatePlacements(_ update: [Placement]) throws -> PlacementCounts {
        let started = DispatchTime.now().uptimeNanoseconds
        let counts = try writeLock.withLock { _ in
            var current = try snapshot()
            try current.placement.checkUpdate(update)
            // Leftovers go before entries are re-split: a deleted id must not come back as an arriving copy.
            let deleted = try deleteUnowned(from: &current)
            let next = ShardPlacement(shard: settings.shard, placements: update)
            if next != current.placement {
                try store.setPlacements(update.map { ($0.version, $0.shards) })
                current.setPlacement(next)
            }
            if update.count == 1 { tombstones.withLock { $0.removeAll() } }
            install(current)
            var counts = current.counts
            counts.deleted = UInt64(deleted)
            return counts
        }
        log("shard \(settings.shard): serving map " + update.map { String($0.version) }.joined(separator: " → ")
            + " (settled \(counts.settled), leaving \(counts.leaving), arriving \(counts.arriving), unowned \(counts.unowned); "
            + String(format: "%.3f s)", elapsed(since: started)))
        if update.count == 1, counts.unowned > 0 { moveLane.submit { [self] in purgeUnowned() } }
        return counts
    }

    /// Deletes the unowned entries from the store and the index (under the write lock).
    func deleteUnowned(from current: inout ShardIndex) throws -> Int {
        let unowned = current.ids(in: .unowned)
        guard !unowned.isEmpty else { return 0 }
        // In the store's key order: the deletes walk the table's pages once.
        let deleted = try store.deleteInBatches(unowned.sorted { Int64(bitPattern: $0) < Int64(bitPattern: $1) }, batch: 1 << 20)
        current.forgetUnowned(Set(unowned))
        return deleted
    }

    /// The background side of `deleteUnowned`: batches that each, under the write lock, take the
    /// ids still unowned in the index, delete them from the store and forget them, so store and
    /// index never disagree (an add may land between batches). It runs on the move lane, so a
    /// later placement update waits for it; a failure leaves the rest to that update or to the
    /// next start.
    func purgeUnowned() {
        let started = DispatchTime.now().uptimeNanoseconds
        var purged = 0
        do {
            while true {
                let done = try writeLock.withLock { _ -> Bool in
                    var current = try snapshot()
                    let batch = Array(current.ids(in: .unowned).sorted { Int64(bitPattern: $0) < Int64(bitPattern: $1) }
                        .prefix(Worker.purgeBatch))
                    guard !batch.isEmpty else { return true }
                    _ = try store.delete(batch)
                    current.forgetUnowned(Set(batch))
                    install(current)
                    purged += batch.count
                    return false
                }
                if done { break }
            }
            guard purged > 0 else { return }
            log("shard \(settings.shard): deleted \(purged) entries it no longer owns"
                + String(format: " (%.3f s)", elapsed(since: started)))
        } catch {
            log("shard \(settings.shard): deleting entries it no longer owns failed (\(error)); the next placement or start retries")
        }
    }

    /// Up to `limit` leaving entries (owned under the older placement, not the newer) in id
    /// order after `after`, read from the store so labels, keys and vectors travel too.
    func export(after: UInt64?, limit: Int) throws -> ExportPage {
        let current = try snapshot()
        guard (1 ... Worker.maxExportPage).contains(limit) else {
            throw ErrorReply(.badRequest, "an export page holds 1…\(Worker.maxExportPage) entries, asked for \(limit)")
        }
        guard current.placement.placements.count == 2 else {
            throw ErrorReply(.conflict, "shard \(settings.shard) has no move in progress: nothing leaves it")
        }
        var leaving: [StoredEntry] = []
        var cursor = after
        while leaving.count < limit {
            let step = try store.scan(after: cursor, limit: limit - leaving.count, scanLimit: Worker.exportScan) {
                current.placement.part(of: $0) == .leaving
            }
            leaving += step.entries
            cursor = step.last
            if step.exhausted { return ExportPage(entries: transfer(leaving, version: current.version), next: nil) }
            // A page answers in bounded time even when few entries leave.
            if step.entries.isEmpty, leaving.count > 0 { break }
        }
        return ExportPage(entries: transfer(leaving, version: current.version), next: cursor)
    }

    func transfer(_ entries: [StoredEntry], version: UInt64) -> ShardTransfer {
        let labeled = entries.contains { $0.label != nil }
        let keyed = entries.contains { $0.key != nil }
        return ShardTransfer(codebookVersion: version, ids: entries.map(\.id), lists: entries.map { UInt32($0.list) },
                             codes: entries.flatMap(\.code), labels: labeled ? entries.map { $0.label ?? 0 } : [],
                             labeled: labeled ? entries.map { $0.label != nil } : [], keys: keyed ? entries.map { $0.key ?? "" } : [],
                             vectors: entries.flatMap { $0.vector ?? [] })
    }

    /// Stores entries copied from another shard (already encoded: nothing is re-encoded). Ids
    /// already held are left as they are, so a repeated page changes nothing. A replicated
    /// target's copies take the page as a numbered write (`sequence`), logged like an add, so
    /// they stay equal and a copy that missed it catches up from a peer.
    func accept(_ transfer: ShardTransfer, sequence: WriteSequence? = nil) throws -> UInt64 {
        try writeLock.withLock { _ in
            let current = try snapshot()
            try admit(sequence)
            guard transfer.codebookVersion == current.version else {
                throw ErrorReply(.conflict, "transfer encoded with codebook \(String(transfer.codebookVersion, radix: 16)), "
                                            + "shard holds \(String(current.version, radix: 16))")
            }
            let decoded = try entries(of: transfer, template: current.template)
            let stale = tombstones.withLock { $0 }
            let entries = decoded.filter { stale.isEmpty || !stale.contains($0.id) }
            let inserted = try store.insert(entries, seq: sequence?.seq)
            if let sequence { appliedSeq.withLock { $0 = sequence.seq } }
            let fresh = inserted.indices.filter { inserted[$0] }.map { entries[$0] }
            let storesVectors = current.template.configuration.storesVectors
            let vectors = storesVectors ? try Matrix(dimension: current.template.dimension, values: fresh.flatMap { $0.vector! }) : nil
            var next = current
            next.append(vectors, ids: fresh.map { VectorID($0.id) }, lists: fresh.map(\.list), codes: fresh.flatMap(\.code))
            install(next)
            return UInt64(fresh.count)
        }
    }

    /// The entries a transfer carries, every count checked against the ids before anything is
    /// indexed by it (divisions, not products).
    func entries(of transfer: ShardTransfer, template: IVFPQIndex) throws -> [StoredEntry] {
        let n = transfer.ids.count, m = template.codeSize, dimension = template.dimension
        let storesVectors = template.configuration.storesVectors
        let vectorsMatch = storesVectors
            ? transfer.vectors.count % dimension == 0 && transfer.vectors.count / dimension == n
            : transfer.vectors.isEmpty
        guard transfer.lists.count == n, transfer.codes.count % m == 0, transfer.codes.count / m == n, vectorsMatch,
              transfer.labels.isEmpty || transfer.labels.count == n,
              transfer.labeled.isEmpty || (transfer.labels.count == n && transfer.labeled.count == n),
              transfer.keys.isEmpty || transfer.keys.count == n,
              transfer.lists.allSatisfy({ Int($0) < template.listCount }) else {
            throw ErrorReply(.badRequest, "transfer holds \(n) ids, \(transfer.lists.count) lists, \(transfer.labels.count) labels, "
                + "\(transfer.keys.count) keys, \(transfer.vectors.count) vector values and \(transfer.codes.count) code bytes "
                + "(m = \(m), d = \(dimension), full vectors \(storesVectors ? "stored" : "not stored")): they must match the ids")
        }
        guard Set(transfer.ids).count == n else { throw ErrorReply(.badRequest, "the transfer repeats an id") }
        do { try template.checkCodes(transfer.codes) } catch {
            throw ErrorReply(.badRequest, "transferred codes: \(error)")
        }
        if let position = transfer.vectors.firstIndex(where: { !$0.isFinite }) {
            throw ErrorReply(.badRequest, "transferred vector \(position / dimension) holds NaN or infinity")
        }
        return (0 ..< n).map { row in
            StoredEntry(id: transfer.ids[row], list: Int32(transfer.lists[row]), code: Array(transfer.codes[row * m ..< (row + 1) * m]),
                        vector: storesVectors ? Array(transfer.vectors[row * dimension ..< (row + 1) * dimension]) : nil,
                        label: transfer.labels.isEmpty || (!transfer.labeled.isEmpty && !transfer.labeled[row])
                            ? nil : transfer.labels[row],
                        key: transfer.keys.isEmpty || transfer.keys[row].isEmpty ? nil : transfer.keys[row])
        }
    }

    /// Inventory, digest or drop of the entries that flow between two shards in the move. A drop
    /// at a replicated target is a numbered write (`sequence`), like the transfers it undoes.
    func flow(_ query: FlowQuery, sequence: WriteSequence? = nil) throws -> FlowReply {
        switch query.action {
        case .drop: return try writeLock.withLock { _ in try dropArriving(from: query.fromShard, sequence: sequence) }
        case .inventory: return try inventory()
        case .digest: return try digest(from: query.fromShard, to: query.toShard)
        }
    }

    /// Owners of `id` under the older and the newer placement (this shard when none is known).
    func owners(of id: UInt64, _ placement: ShardPlacement) -> (UInt32, UInt32) {
        switch placement.placements.count {
        case 0: return (settings.shard.rawValue, settings.shard.rawValue)
        case 1: let owner = placement.owner(of: id, in: 0); return (owner, owner)
        default: return (placement.owner(of: id, in: 0), placement.owner(of: id, in: 1))
        }
    }

    /// Held entries counted by (owner under the older placement, owner under the newer).
    func inventory() throws -> FlowReply {
        let current = try snapshot()
        var counts: [UInt64: UInt64] = [:]
        current.forEachEntry { _, _, list, position in
            let (from, to) = owners(of: list.ids[position], current.placement)
            counts[UInt64(from) << 32 | UInt64(to), default: 0] += 1
        }
        return FlowReply(flows: counts.keys.sorted().map { Flow(from: UInt32($0 >> 32), to: UInt32($0 & 0xFFFF_FFFF), count: counts[$0]!) })
    }

    /// Per list, the count and order-free digest of the entries flowing from `from` to `to`.
    func digest(from: UInt32, to: UInt32) throws -> FlowReply {
        let current = try snapshot()
        guard current.placement.placements.count == 2 else {
            throw ErrorReply(.conflict, "shard \(settings.shard) has no move in progress")
        }
        let (counts, digests) = listDigests(current) { _, id in owners(of: id, current.placement) == (from, to) }
        return FlowReply(listCounts: counts, listDigests: digests)
    }

    /// Deletes the copies that arrived here from `from` (a copy that failed verification is
    /// dropped and sent again). Only the target of a flow may drop it.
    func dropArriving(from: UInt32, sequence: WriteSequence? = nil) throws -> FlowReply {
        var current = try snapshot()
        guard current.placement.placements.count == 2, from != settings.shard.rawValue else {
            throw ErrorReply(.badRequest, "shard \(settings.shard) drops only copies arriving from another shard during a move")
        }
        try admit(sequence)
        var ids: [UInt64] = []
        current.forEachEntry { part, _, list, position in
            if part == .arriving, current.placement.owner(of: list.ids[position], in: 0) == from { ids.append(list.ids[position]) }
        }
        // A numbered drop is one logged write (one transaction); an unnumbered one goes in batches.
        let deleted: Int
        if let sequence {
            deleted = try store.delete(ids, seq: sequence.seq).count
            appliedSeq.withLock { $0 = sequence.seq }
        } else {
            deleted = try store.deleteInBatches(ids)
        }
        current.remove(Set(ids.map { VectorID($0) }))
        install(current)
        return FlowReply(dropped: UInt64(deleted))
    }
}

/// An order-free summand for a list's digest: FNV-1a over the id, the code and the stored
/// vector's bits, then mixed so that sums of digests do not cancel.
func entryDigest(id: UInt64, code: ArraySlice<UInt8>, vector: ArraySlice<Float>) -> UInt64 {
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    func feed(_ byte: UInt8) { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
    withUnsafeBytes(of: id.littleEndian) { for byte in $0 { feed(byte) } }
    for byte in code { feed(byte) }
    for value in vector { withUnsafeBytes(of: value.bitPattern.littleEndian) { for byte in $0 { feed(byte) } } }
    return Rendezvous.mix(hash)
}

/// The replica log: the shard's writes by sequence number (one row a write: the ids it touched),
/// so a replica that missed writes catches up from a peer, and the last sequence number applied.
/// The log is complete after `log_floor`: a full copy starts it anew, and the oldest writes are
/// trimmed once it holds more than `logWindowIDs` ids, so it stays bounded however long the
/// shard takes writes (a copy that fell further behind than the window gets a full copy).
extension ShardDatabase {
    static let replicaSchema = """
        CREATE TABLE IF NOT EXISTS replica_log (seq INTEGER PRIMARY KEY, ids BLOB NOT NULL);
        """

    /// The sequence number of the last write applied (0: none).
    public func lastSeq() throws(StoreError) -> UInt64 { try metaNumber("last_seq") }

    /// The log holds every write after this sequence number.
    public func logFloor() throws(StoreError) -> UInt64 { try metaNumber("log_floor") }

    func metaNumber(_ key: String) throws(StoreError) -> UInt64 {
        guard let bytes = try meta(key) else { return 0 }
        guard bytes.count == 8 else { throw .corrupt("\(key) is \(bytes.count) bytes") }
        return bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
    }

    func setMetaNumber(_ key: String, _ value: UInt64) throws(StoreError) {
        try setMeta(key, withUnsafeBytes(of: value.littleEndian) { Array($0) })
    }

    /// Records write `seq` touching `ids` (inside the write's transaction), then trims the log's
    /// oldest writes once it holds more than its window (`logWindowIDs`, plus an eighth so that a
    /// trim removes a batch of rows rather than one row a write).
    func logWrite(_ seq: UInt64, ids: [UInt64]) throws(StoreError) {
        // Counted before the row goes in (a directory without the count sums the rows once).
        let before = try loggedIDCount()
        let statement = try database.prepare("INSERT OR REPLACE INTO replica_log (seq, ids) VALUES (?, ?)")
        try statement.bind(1, Int64(bitPattern: seq))
        try statement.bind(2, blob: ids.withUnsafeBytes { Array($0) })
        try statement.step()
        try setMetaNumber("last_seq", seq)
        // Counts stay far below 2^64 (ids a write touched), but come from disk: added without trapping.
        let (sum, overflow) = before.addingReportingOverflow(UInt64(ids.count))
        let held = overflow ? UInt64.max : sum
        try setMetaNumber("log_ids", held)
        if held - min(held, logWindowIDs) > logWindowIDs / 8 { try trimLog(holding: held) }
    }

    /// The ids the log holds (counted with repeats: one per id a write touched). Directories from
    /// before the count was kept are counted once, here.
    public func loggedIDCount() throws(StoreError) -> UInt64 {
        if try meta("log_ids") != nil { return try metaNumber("log_ids") }
        let statement = try database.prepare("SELECT COALESCE(SUM(length(ids)), 0) FROM replica_log")
        _ = try statement.step()
        let count = UInt64(max(0, statement.int64(0))) / 8
        try setMetaNumber("log_ids", count)
        return count
    }

    /// Deletes the oldest writes until at most `logWindowIDs` ids remain, and moves the log's
    /// floor to the last write deleted: a copy that needs writes from below it gets a full copy.
    private func trimLog(holding held: UInt64) throws(StoreError) {
        let oldest = try database.prepare("SELECT seq, length(ids) FROM replica_log ORDER BY seq")
        var remaining = held, floor: UInt64?
        while remaining > logWindowIDs, try oldest.step() {
            floor = UInt64(bitPattern: oldest.int64(0))
            remaining -= min(remaining, UInt64(max(0, oldest.int64(1))) / 8)
        }
        oldest.reset()
        guard let floor else { return }
        let trim = try database.prepare("DELETE FROM replica_log WHERE seq <= ?")
        try trim.bind(1, Int64(bitPattern: floor))
        try trim.step()
        try setMetaNumber("log_floor", max(floor, try logFloor()))
        try setMetaNumber("log_ids", remaining)
    }

    /// Whole writes after `afterSeq`, until `limit` ids are gathered (at least one write): the
    /// distinct ids and the last sequence number covered. Nil when the log does not reach back
    /// to `afterSeq` (the caller must copy in full).
    public func loggedIDs(afterSeq: UInt64, limit: Int) throws(StoreError) -> (ids: [UInt64], upTo: UInt64)? {
        guard afterSeq >= (try logFloor()) else { return nil }
        let statement = try database.prepare("SELECT seq, ids FROM replica_log WHERE seq > ? ORDER BY seq")
        try statement.bind(1, Int64(bitPattern: afterSeq))
        var ids: [UInt64] = [], seen = Set<UInt64>(), upTo = afterSeq
        while ids.count < limit, try statement.step() {
            let blob = statement.blob(1)
            guard blob.count % 8 == 0 else { throw .corrupt("a replica log row holds \(blob.count) bytes") }
            upTo = UInt64(bitPattern: statement.int64(0))
            blob.withUnsafeBytes { raw in
                for offset in stride(from: 0, to: raw.count, by: 8) {
                    let id = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
                    if seen.insert(id).inserted { ids.append(id) }
                }
            }
        }
        return (ids, upTo)
    }

    /// The stored entries of `ids` (absent ids are left out), in the order given.
    public func entries(_ ids: [UInt64]) throws(StoreError) -> [StoredEntry] {
        let statement = try database.prepare("SELECT id, list, code, vector, label, key FROM entries WHERE id = ?")
        var found: [StoredEntry] = []
        for id in ids {
            statement.reset()
            try statement.bind(1, Int64(bitPattern: id))
            if try statement.step() { found.append(try entry(statement)) }
        }
        return found
    }

    /// A page pulled from a peer, in one transaction: `reset` empties the shard and starts the
    /// log at `upToSeq`; entries replace what is stored under their ids; absent ids are deleted;
    /// the page is logged as one write at `upToSeq` so this replica can feed others in turn.
    public func applyReplicaPage(_ entries: [StoredEntry], absent: [UInt64], upToSeq: UInt64, reset: Bool) throws(StoreError) {
        do {
            try database.transaction {
                if reset {
                    try database.execute("DELETE FROM entries; DELETE FROM replica_log;")
                    try setMetaNumber("log_floor", upToSeq)
                    try setMetaNumber("log_ids", 0)
                }
                let replace = try database.prepare(
                    "INSERT OR REPLACE INTO entries (id, list, code, vector, label, key) VALUES (?, ?, ?, ?, ?, ?)")
                for entry in entries {
                    replace.reset()
                    try bind(entry, to: replace)
                    try replace.step()
                }
                let remove = try database.prepare("DELETE FROM entries WHERE id = ?")
                for id in absent {
                    remove.reset()
                    try remove.bind(1, Int64(bitPattern: id))
                    try remove.step()
                }
                let last = try lastSeq()
                if reset || upToSeq > last {
                    let touched = entries.map(\.id) + absent
                    if touched.isEmpty { try setMetaNumber("last_seq", upToSeq) } else { try logWrite(upToSeq, ids: touched) }
                }
            }
        } catch let error as StoreError { throw error } catch { throw .corrupt("\(error)") }
    }
}

/// One copy of a shard: the worker that holds it and whether it may serve.
public struct ReplicaRecord: Sendable, Equatable {
    public var shard: UInt32
    public var url: String
    public var host: String
    /// "in-sync" (takes writes, serves reads), "catching-up" (missed writes: copies from a peer
    /// first) or "joining" (added by an operator, not yet copied).
    public var state: String
    public init(shard: UInt32, url: String, host: String = "", state: String = "in-sync") {
        self.shard = shard
        self.url = url
        self.host = host
        self.state = state
    }
}

/// The replicas of each shard and the write sequence numbers handed out per shard.
extension CatalogDatabase {
    public func replicas() throws(StoreError) -> [ReplicaRecord] {
        let select = try database.prepare("SELECT shard, url, host, state FROM replicas ORDER BY shard, rowid")
        var records: [ReplicaRecord] = []
        while try select.step() {
            records.append(ReplicaRecord(shard: UInt32(truncatingIfNeeded: select.int64(0)), url: select.text(1), host: select.text(2),
                                         state: select.text(3)))
        }
        return records
    }

    /// Records the replicas the first time (a catalog that has some keeps them).
    public func recordInitialReplicas(_ records: [ReplicaRecord]) throws(StoreError) -> [ReplicaRecord] {
        let existing = try replicas()
        guard existing.isEmpty else { return existing }
        try inTransaction { () throws(StoreError) in
            for record in records { try putReplica(record) }
        }
        return records
    }

    /// Adds a replica or changes its state.
    public func putReplica(_ record: ReplicaRecord) throws(StoreError) {
        let upsert = try database.prepare("""
            INSERT INTO replicas (shard, url, host, state) VALUES (?, ?, ?, ?)
            ON CONFLICT(shard, url) DO UPDATE SET host = excluded.host, state = excluded.state
            """)
        try upsert.bind(1, Int64(record.shard))
        try upsert.bind(2, record.url)
        try upsert.bind(3, record.host)
        try upsert.bind(4, record.state)
        try upsert.step()
    }

    public func removeReplica(shard: UInt32, url: String) throws(StoreError) {
        let delete = try database.prepare("DELETE FROM replicas WHERE shard = ? AND url = ?")
        try delete.bind(1, Int64(shard))
        try delete.bind(2, url)
        try delete.step()
    }

    /// Records that the copy joining at `url` replaces the in-sync copy at `replaces`, which
    /// leaves the shard once the new one is in sync (so the shard never has fewer copies in sync
    /// than before).
    public func putReplacement(shard: UInt32, url: String, replaces: String) throws(StoreError) {
        let upsert = try database.prepare("""
            INSERT INTO replica_replacements (shard, url, replaces) VALUES (?, ?, ?)
            ON CONFLICT(shard, url) DO UPDATE SET replaces = excluded.replaces
            """)
        try upsert.bind(1, Int64(shard))
        try upsert.bind(2, url)
        try upsert.bind(3, replaces)
        try upsert.step()
    }

    /// The copy that the copy at `url` replaces once in sync, if any.
    public func replacement(shard: UInt32, url: String) throws(StoreError) -> String? {
        let select = try database.prepare("SELECT replaces FROM replica_replacements WHERE shard = ? AND url = ?")
        try select.bind(1, Int64(shard))
        try select.bind(2, url)
        return try select.step() ? select.text(0) : nil
    }

    /// Every pending replacement: (shard, new copy, the copy it replaces).
    public func replacements() throws(StoreError) -> [(shard: UInt32, url: String, replaces: String)] {
        let select = try database.prepare("SELECT shard, url, replaces FROM replica_replacements ORDER BY shard, url")
        var found: [(shard: UInt32, url: String, replaces: String)] = []
        while try select.step() { found.append((UInt32(truncatingIfNeeded: select.int64(0)), select.text(1), select.text(2))) }
        return found
    }

    /// Forgets the replacement by or of the copy at `url` (it took place, or a copy left).
    public func removeReplacement(shard: UInt32, url: String) throws(StoreError) {
        let delete = try database.prepare("DELETE FROM replica_replacements WHERE shard = ? AND (url = ? OR replaces = ?)")
        try delete.bind(1, Int64(shard))
        try delete.bind(2, url)
        try delete.bind(3, url)
        try delete.step()
    }

    /// The highest write sequence number reserved for `shard` (0: none yet).
    public func reservedSeq(shard: UInt32) throws(StoreError) -> UInt64 {
        let select = try database.prepare("SELECT reserved FROM write_seqs WHERE shard = ?")
        try select.bind(1, Int64(shard))
        return try select.step() ? UInt64(bitPattern: select.int64(0)) : 0
    }

    /// Reserves sequence numbers up to `upTo` for `shard`, durably: numbers handed out are never
    /// handed out again, even after a crash.
    public func reserveSeq(shard: UInt32, upTo: UInt64) throws(StoreError) {
        let upsert = try database.prepare("""
            INSERT INTO write_seqs (shard, reserved) VALUES (?, ?)
            ON CONFLICT(shard) DO UPDATE SET reserved = MAX(reserved, excluded.reserved)
            """)
        try upsert.bind(1, Int64(shard))
        try upsert.bind(2, Int64(bitPattern: upTo))
        try upsert.step()
    }

    /// The last write of `shard` that was acknowledged to a client (0: none): every copy that may
    /// feed the others holds at least this one.
    public func committedSeq(shard: UInt32) throws(StoreError) -> UInt64 {
        let select = try database.prepare("SELECT committed FROM committed_seqs WHERE shard = ?")
        try select.bind(1, Int64(shard))
        return try select.step() ? UInt64(bitPattern: select.int64(0)) : 0
    }

    /// Records write `seq` of `shard` as acknowledged (the number never goes down).
    public func recordCommittedSeq(shard: UInt32, seq: UInt64) throws(StoreError) {
        let upsert = try database.prepare("""
            INSERT INTO committed_seqs (shard, committed) VALUES (?, ?)
            ON CONFLICT(shard) DO UPDATE SET committed = MAX(committed, excluded.committed)
            """)
        try upsert.bind(1, Int64(shard))
        try upsert.bind(2, Int64(bitPattern: seq))
        try upsert.step()
    }

    /// Sets `shard`'s last acknowledged write to `seq`, lower or higher (a restore rewinds it to
    /// the backup's moment).
    public func resetCommittedSeq(shard: UInt32, seq: UInt64) throws(StoreError) {
        let upsert = try database.prepare("""
            INSERT INTO committed_seqs (shard, committed) VALUES (?, ?)
            ON CONFLICT(shard) DO UPDATE SET committed = excluded.committed
            """)
        try upsert.bind(1, Int64(shard))
        try upsert.bind(2, Int64(bitPattern: seq))
        try upsert.step()
    }
}

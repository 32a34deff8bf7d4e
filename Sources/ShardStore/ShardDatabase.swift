import Foundation

/// One stored entry of a shard: id, coarse list, PQ code, and the optional extras.
public struct StoredEntry: Sendable, Equatable {
    public var id: UInt64
    public var list: Int32
    public var code: [UInt8]
    public var vector: [Float]?
    public var label: Int32?
    public var key: String?

    public init(id: UInt64, list: Int32, code: [UInt8], vector: [Float]? = nil, label: Int32? = nil, key: String? = nil) {
        self.id = id
        self.list = list
        self.code = code
        self.vector = vector
        self.label = label
        self.key = key
    }
}

/// A worker's durable shard in `DIR/shard.sqlite` (WAL): metadata, the codebook (the trained,
/// empty index file) and one row per vector. An add returns only after its transaction commits.
public final class ShardDatabase: @unchecked Sendable {
    // Safe: every access goes through `database`, which serialises calls.
    let database: SQLiteDatabase
    /// The ids the replica log keeps for copies that catch up (see ShardDatabase+Replica).
    public let logWindowIDs: UInt64
    /// A million ids: a copy that was away for a million written ids or fewer catches up from the
    /// log; the log then takes about 8 MB (8 bytes an id) plus a row a write.
    public static let defaultLogWindowIDs: UInt64 = 1_000_000

    /// A consistent copy of the shard at `path` (SQLite's online backup API); its size in bytes.
    public func backup(to path: String) throws(StoreError) -> UInt64 { try database.backup(to: path) }

    /// Opens or creates the shard in `directory` for `cluster` and `shard`; refuses a directory of
    /// another cluster or of another shard (a directory from before shard ids were recorded takes
    /// the first shard it is opened as). The replica log keeps the last `logWindowIDs` ids written.
    public init(directory: String, cluster: String, shard: UInt32,
                logWindowIDs: UInt64 = ShardDatabase.defaultLogWindowIDs) throws(StoreError) {
        self.logWindowIDs = max(1, logWindowIDs)
        database = try openClusterDatabase(directory: directory, file: "shard.sqlite", cluster: cluster, schema: """
            CREATE TABLE IF NOT EXISTS entries (
                id INTEGER PRIMARY KEY, list INTEGER NOT NULL, code BLOB NOT NULL,
                vector BLOB, label INTEGER, key TEXT);
            """ + ShardDatabase.replicaSchema)
        if let stored = try meta("shard") {
            guard stored.count == 4 else { throw .corrupt("the shard id is \(stored.count) bytes") }
            let found = stored.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) }
            guard found == shard else { throw .otherShard(found: found, expected: shard) }
        } else {
            try setMeta("shard", withUnsafeBytes(of: shard.littleEndian) { Array($0) })
        }
    }

    func meta(_ key: String) throws(StoreError) -> [UInt8]? {
        let statement = try database.prepare("SELECT value FROM meta WHERE key = ?")
        try statement.bind(1, key)
        return try statement.step() ? statement.blob(0) : nil
    }

    func setMeta(_ key: String, _ value: [UInt8]) throws(StoreError) {
        let statement = try database.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)")
        try statement.bind(1, key)
        try statement.bind(2, blob: value)
        try statement.step()
    }

    /// The stored codebook version and index file, if any.
    public func codebook() throws(StoreError) -> (version: UInt64, indexFile: [UInt8])? {
        guard let version = try meta("codebook_version"), let file = try meta("codebook") else { return nil }
        guard version.count == 8 else { throw .corrupt("codebook version is \(version.count) bytes") }
        return (version.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }, file)
    }

    /// Stores a codebook. A different version is refused while the shard holds vectors.
    public func setCodebook(version: UInt64, indexFile: [UInt8]) throws(StoreError) {
        if let current = try codebook(), current.version != version, try count() > 0 {
            throw .codebookConflict(stored: current.version, offered: version)
        }
        do {
            try database.transaction {
                try setMeta("codebook", indexFile)
                try setMeta("codebook_version", withUnsafeBytes(of: version.littleEndian) { Array($0) })
            }
        } catch let error as StoreError { throw error } catch { throw .corrupt("\(error)") }
    }

    public func count() throws(StoreError) -> Int {
        let statement = try database.prepare("SELECT COUNT(*) FROM entries")
        try statement.step()
        return Int(statement.int64(0))
    }

    /// Inserts in one transaction; ids already stored are left as they are (adds are idempotent,
    /// so a retried batch never duplicates). Returns which entries were new.
    /// `seq`: the write's sequence number, logged in the same transaction (nil: not replicated).
    public func insert(_ entries: [StoredEntry], seq: UInt64? = nil) throws(StoreError) -> [Bool] {
        do {
            return try database.transaction {
                let statement = try database.prepare(
                    "INSERT OR IGNORE INTO entries (id, list, code, vector, label, key) VALUES (?, ?, ?, ?, ?, ?)")
                var inserted: [Bool] = []
                inserted.reserveCapacity(entries.count)
                for entry in entries {
                    statement.reset()
                    try bind(entry, to: statement)
                    try statement.step()
                    inserted.append(database.changes > 0)
                }
                if let seq { try logWrite(seq, ids: entries.indices.filter { inserted[$0] }.map { entries[$0].id }) }
                return inserted
            }
        } catch let error as StoreError { throw error } catch { throw .corrupt("\(error)") }
    }

    /// Deletes the ids in one transaction; returns the ids that existed.
    public func delete(_ ids: [UInt64], seq: UInt64? = nil) throws(StoreError) -> [UInt64] {
        do {
            return try database.transaction {
                let statement = try database.prepare("DELETE FROM entries WHERE id = ?")
                var deleted: [UInt64] = []
                for id in ids {
                    statement.reset()
                    try statement.bind(1, Int64(bitPattern: id))
                    try statement.step()
                    if database.changes > 0 { deleted.append(id) }
                }
                if let seq { try logWrite(seq, ids: deleted) }
                return deleted
            }
        } catch let error as StoreError { throw error } catch { throw .corrupt("\(error)") }
    }

    /// Every stored entry, in id order, for rebuilding the in-memory shard after a restart.
    public func loadAll(dimension: Int) throws(StoreError) -> [StoredEntry] {
        let statement = try database.prepare("SELECT id, list, code, vector, label, key FROM entries ORDER BY id")
        var entries: [StoredEntry] = []
        while try statement.step() {
            let stored = try entry(statement)
            if let vector = stored.vector, vector.count != dimension {
                throw .corrupt("a stored vector has \(vector.count * 4) bytes, expected \(dimension * 4)")
            }
            entries.append(stored)
        }
        return entries
    }

    /// Binds an entry to the six parameters of an `INSERT … (id, list, code, vector, label, key)`.
    func bind(_ entry: StoredEntry, to statement: Statement) throws(StoreError) {
        try statement.bind(1, Int64(bitPattern: entry.id))
        try statement.bind(2, Int64(entry.list))
        try statement.bind(3, blob: entry.code)
        if let vector = entry.vector {
            try statement.bind(4, blob: vector.withUnsafeBytes { Array($0) })
        } else {
            try statement.bindNull(4)
        }
        if let label = entry.label { try statement.bind(5, Int64(label)) } else { try statement.bindNull(5) }
        if let key = entry.key { try statement.bind(6, key) } else { try statement.bindNull(6) }
    }

    /// The entry in the current row of a `SELECT id, list, code, vector, label, key`.
    func entry(_ statement: Statement) throws(StoreError) -> StoredEntry {
        let vectorBytes = statement.isNull(3) ? nil : statement.blob(3)
        if let vectorBytes, vectorBytes.count % 4 != 0 { throw .corrupt("a stored vector has \(vectorBytes.count) bytes") }
        let vector = vectorBytes.map { bytes in
            bytes.withUnsafeBytes { raw in (0 ..< bytes.count / 4).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) } }
        }
        return StoredEntry(id: UInt64(bitPattern: statement.int64(0)), list: Int32(truncatingIfNeeded: statement.int64(1)),
                           code: statement.blob(2), vector: vector,
                           label: statement.isNull(4) ? nil : Int32(truncatingIfNeeded: statement.int64(4)),
                           key: statement.isNull(5) ? nil : statement.text(5))
    }

    /// Label and key of one id, when stored.
    public func labelAndKey(_ id: UInt64) throws(StoreError) -> (label: Int32?, key: String?)? {
        let statement = try database.prepare("SELECT label, key FROM entries WHERE id = ?")
        try statement.bind(1, Int64(bitPattern: id))
        guard try statement.step() else { return nil }
        return (statement.isNull(0) ? nil : Int32(truncatingIfNeeded: statement.int64(0)), statement.isNull(1) ? nil : statement.text(1))
    }
}

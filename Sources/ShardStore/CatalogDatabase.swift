import Foundation

/// The coordinator's catalog in `DIR/catalog.sqlite` (WAL): collections, versioned codebooks,
/// the versioned shard maps and the journal of moves between them (CatalogDatabase+Maps),
/// workers' last-seen state, and per-id labels and keys.
public final class CatalogDatabase: @unchecked Sendable {
    // Safe: every access goes through `database`, which serialises calls.
    let database: SQLiteDatabase

    /// A consistent copy of the catalog at `path` (SQLite's online backup API); its size in bytes.
    public func backup(to path: String) throws(StoreError) -> UInt64 { try database.backup(to: path) }

    public init(directory: String, cluster: String) throws(StoreError) {
        database = try openClusterDatabase(directory: directory, file: "catalog.sqlite", cluster: cluster, schema: """
            CREATE TABLE IF NOT EXISTS collections (
                name TEXT PRIMARY KEY, dimension INTEGER NOT NULL, nlist INTEGER NOT NULL,
                m INTEGER NOT NULL, metric TEXT NOT NULL, stores_vectors INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS codebooks (version INTEGER PRIMARY KEY, index_file BLOB NOT NULL, created REAL NOT NULL);
            CREATE TABLE IF NOT EXISTS shard_maps (version INTEGER NOT NULL, shard INTEGER NOT NULL, url TEXT NOT NULL,
                host TEXT NOT NULL, state TEXT NOT NULL, PRIMARY KEY (version, shard));
            CREATE TABLE IF NOT EXISTS moves (to_version INTEGER PRIMARY KEY, from_version INTEGER NOT NULL, kind TEXT NOT NULL,
                shard INTEGER NOT NULL, step TEXT NOT NULL, copied INTEGER NOT NULL, total INTEGER NOT NULL,
                rate INTEGER NOT NULL, error TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS move_cursors (to_version INTEGER NOT NULL, source INTEGER NOT NULL, after_id INTEGER,
                done INTEGER NOT NULL, PRIMARY KEY (to_version, source));
            CREATE TABLE IF NOT EXISTS workers (shard INTEGER PRIMARY KEY, url TEXT NOT NULL, last_seen REAL, state TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, label INTEGER, key TEXT);
            CREATE TABLE IF NOT EXISTS replicas (shard INTEGER NOT NULL, url TEXT NOT NULL, host TEXT NOT NULL, state TEXT NOT NULL,
                PRIMARY KEY (shard, url));
            CREATE TABLE IF NOT EXISTS replica_replacements (shard INTEGER NOT NULL, url TEXT NOT NULL, replaces TEXT NOT NULL,
                PRIMARY KEY (shard, url));
            CREATE TABLE IF NOT EXISTS write_seqs (shard INTEGER PRIMARY KEY, reserved INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS committed_seqs (shard INTEGER PRIMARY KEY, committed INTEGER NOT NULL);
            """)
    }

    /// Records the collection's parameters the first time; later calls must agree.
    public func ensureCollection(name: String, dimension: Int, nlist: Int, m: Int, metric: String, storesVectors: Bool) throws(StoreError) {
        let select = try database.prepare("SELECT dimension, nlist, m, metric, stores_vectors FROM collections WHERE name = ?")
        try select.bind(1, name)
        if try select.step() {
            let stored = (Int(select.int64(0)), Int(select.int64(1)), Int(select.int64(2)), select.text(3), select.int64(4) != 0)
            guard stored == (dimension, nlist, m, metric, storesVectors) else {
                throw .corrupt("collection \(name) was created with d=\(stored.0) nlist=\(stored.1) m=\(stored.2) "
                               + "metric=\(stored.3); the config now says d=\(dimension) nlist=\(nlist) m=\(m) metric=\(metric)")
            }
            return
        }
        let insert = try database.prepare(
            "INSERT INTO collections (name, dimension, nlist, m, metric, stores_vectors) VALUES (?, ?, ?, ?, ?, ?)")
        try insert.bind(1, name)
        try insert.bind(2, Int64(dimension))
        try insert.bind(3, Int64(nlist))
        try insert.bind(4, Int64(m))
        try insert.bind(5, metric)
        try insert.bind(6, storesVectors ? 1 : 0)
        try insert.step()
    }

    public func latestCodebook() throws(StoreError) -> (version: UInt64, indexFile: [UInt8])? {
        let select = try database.prepare("SELECT version, index_file FROM codebooks ORDER BY created DESC LIMIT 1")
        guard try select.step() else { return nil }
        return (UInt64(bitPattern: select.int64(0)), select.blob(1))
    }

    public func saveCodebook(version: UInt64, indexFile: [UInt8]) throws(StoreError) {
        let insert = try database.prepare("INSERT OR REPLACE INTO codebooks (version, index_file, created) VALUES (?, ?, ?)")
        try insert.bind(1, Int64(bitPattern: version))
        try insert.bind(2, blob: indexFile)
        try insert.bind(3, Int64(Date().timeIntervalSince1970 * 1000))
        try insert.step()
    }

    public func recordWorker(shard: UInt32, url: String, state: String, seen: Bool) throws(StoreError) {
        let upsert = try database.prepare("""
            INSERT INTO workers (shard, url, last_seen, state) VALUES (?, ?, ?, ?)
            ON CONFLICT(shard) DO UPDATE SET url = excluded.url, state = excluded.state,
                last_seen = COALESCE(excluded.last_seen, workers.last_seen)
            """)
        try upsert.bind(1, Int64(shard))
        try upsert.bind(2, url)
        if seen { try upsert.bind(3, Int64(Date().timeIntervalSince1970 * 1000)) } else { try upsert.bindNull(3) }
        try upsert.bind(4, state)
        try upsert.step()
    }

    /// Stores labels and keys given with added ids (one transaction). `onlyWhereMissing` keeps
    /// what an id already has: an add that repeats stored ids completes the metadata of an add
    /// whose shards committed before its catalog write was lost (a crash between the two), and
    /// never changes an item that is whole.
    public func recordItems(ids: [UInt64], labels: [Int32], keys: [String], onlyWhereMissing: Bool = false) throws(StoreError) {
        guard !labels.isEmpty || !keys.isEmpty, !ids.isEmpty else { return }
        do {
            try database.transaction {
                let upsert = try database.prepare("INSERT OR \(onlyWhereMissing ? "IGNORE" : "REPLACE") "
                                                  + "INTO items (id, label, key) VALUES (?, ?, ?)")
                for (index, id) in ids.enumerated() {
                    upsert.reset()
                    try upsert.bind(1, Int64(bitPattern: id))
                    if index < labels.count { try upsert.bind(2, Int64(labels[index])) } else { try upsert.bindNull(2) }
                    if index < keys.count { try upsert.bind(3, keys[index]) } else { try upsert.bindNull(3) }
                    try upsert.step()
                }
            }
        } catch let error as StoreError { throw error } catch { throw .corrupt("\(error)") }
    }

    public func item(_ id: UInt64) throws(StoreError) -> (label: Int32?, key: String?)? {
        let select = try database.prepare("SELECT label, key FROM items WHERE id = ?")
        try select.bind(1, Int64(bitPattern: id))
        guard try select.step() else { return nil }
        return (select.isNull(0) ? nil : Int32(truncatingIfNeeded: select.int64(0)), select.isNull(1) ? nil : select.text(1))
    }

    public func deleteItems(_ ids: [UInt64]) throws(StoreError) {
        do {
            try database.transaction {
                let delete = try database.prepare("DELETE FROM items WHERE id = ?")
                for id in ids {
                    delete.reset()
                    try delete.bind(1, Int64(bitPattern: id))
                    try delete.step()
                }
            }
        } catch let error as StoreError { throw error } catch { throw .corrupt("\(error)") }
    }
}

import CSQLite
import Foundation

extension SQLiteDatabase {
    /// Writes a consistent copy of the whole database to `path` with SQLite's online backup API,
    /// in one step under this connection's lock (its writes wait; other readers go on), then
    /// fsyncs it. The copy is a plain database file (no WAL beside it). Returns its size in bytes.
    @discardableResult
    public func backup(to path: String) throws(StoreError) -> UInt64 {
        try? FileManager.default.removeItem(atPath: path)
        var destination: OpaquePointer?
        let opened = sqlite3_open_v2(path, &destination, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nil)
        defer { sqlite3_close(destination) }
        guard opened == SQLITE_OK else { throw .sqlite(operation: "open \(path)", code: opened, message: "cannot create the backup file") }
        lock.lock()
        defer { lock.unlock() }
        guard let backup = sqlite3_backup_init(destination, "main", handle, "main") else {
            throw .sqlite(operation: "backup to \(path)", code: sqlite3_errcode(destination),
                          message: String(cString: sqlite3_errmsg(destination)))
        }
        let stepped = sqlite3_backup_step(backup, -1)
        let finished = sqlite3_backup_finish(backup)
        guard stepped == SQLITE_DONE, finished == SQLITE_OK else {
            throw .sqlite(operation: "backup to \(path)", code: stepped == SQLITE_DONE ? finished : stepped,
                          message: String(cString: sqlite3_errmsg(destination)))
        }
        let descriptor = open(path, O_RDONLY)
        if descriptor >= 0 { fsync(descriptor); close(descriptor) }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.uint64Value ?? 0
        return size
    }
}

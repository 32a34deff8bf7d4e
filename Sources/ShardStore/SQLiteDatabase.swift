import CSQLite
import Foundation

/// `SQLITE_TRANSIENT` is a cast macro that Swift does not import.
let sqliteTransient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// One SQLite connection in WAL mode with full fsync. Every call is serialised by `lock`, which
/// is what makes the `@unchecked Sendable` safe; callers run it on their own threads, never on
/// Swift's cooperative pool.
public final class SQLiteDatabase: @unchecked Sendable {
    var handle: OpaquePointer?
    let lock = NSRecursiveLock()
    public let path: String

    public init(path: String) throws(StoreError) {
        self.path = path
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX
        let code = sqlite3_open_v2(path, &handle, flags, nil)
        guard code == SQLITE_OK else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close(handle)
            throw .sqlite(operation: "open \(path)", code: code, message: message)
        }
        sqlite3_busy_timeout(handle, 5000)
        try execute("PRAGMA journal_mode=WAL")
        // An acknowledged write must survive power loss, not only a process kill.
        try execute("PRAGMA synchronous=FULL")
    }

    deinit { sqlite3_close_v2(handle) }

    /// Turns an SQLite return code into a typed error with SQLite's own message.
    func check(_ code: Int32, _ operation: String) throws(StoreError) {
        guard code == SQLITE_OK || code == SQLITE_DONE || code == SQLITE_ROW else {
            throw .sqlite(operation: operation, code: code, message: String(cString: sqlite3_errmsg(handle)))
        }
    }

    public func execute(_ sql: String) throws(StoreError) {
        lock.lock()
        defer { lock.unlock() }
        try check(sqlite3_exec(handle, sql, nil, nil, nil), sql)
    }

    public func prepare(_ sql: String) throws(StoreError) -> Statement {
        lock.lock()
        defer { lock.unlock() }
        var statement: OpaquePointer?
        try check(sqlite3_prepare_v2(handle, sql, -1, &statement, nil), "prepare \(sql)")
        return Statement(statement!, database: self)
    }

    /// Runs `body` in one transaction: committed when it returns, rolled back when it throws.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        try execute("BEGIN IMMEDIATE")
        do {
            let value = try body()
            try execute("COMMIT")
            return value
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// Rows changed by the last statement.
    public var changes: Int { Int(sqlite3_changes(handle)) }
}

/// A prepared statement; finalised on deinit.
public final class Statement {
    private let statement: OpaquePointer
    private let database: SQLiteDatabase

    init(_ statement: OpaquePointer, database: SQLiteDatabase) {
        self.statement = statement
        self.database = database
    }

    deinit { sqlite3_finalize(statement) }

    public func reset() {
        sqlite3_reset(statement)
        sqlite3_clear_bindings(statement)
    }

    public func bind(_ index: Int32, _ value: Int64) throws(StoreError) {
        try database.check(sqlite3_bind_int64(statement, index, value), "bind")
    }

    public func bind(_ index: Int32, _ value: String) throws(StoreError) {
        try database.check(sqlite3_bind_text(statement, index, value, -1, sqliteTransient), "bind")
    }

    public func bind(_ index: Int32, blob: [UInt8]) throws(StoreError) {
        let code = blob.withUnsafeBytes { sqlite3_bind_blob(statement, index, $0.baseAddress, Int32($0.count), sqliteTransient) }
        try database.check(code, "bind")
    }

    public func bindNull(_ index: Int32) throws(StoreError) {
        try database.check(sqlite3_bind_null(statement, index), "bind")
    }

    /// Steps once; true when a row is available.
    @discardableResult
    public func step() throws(StoreError) -> Bool {
        let code = sqlite3_step(statement)
        try database.check(code, "step")
        return code == SQLITE_ROW
    }

    public func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(statement, column) }
    public func isNull(_ column: Int32) -> Bool { sqlite3_column_type(statement, column) == SQLITE_NULL }
    public func text(_ column: Int32) -> String {
        guard let pointer = sqlite3_column_text(statement, column) else { return "" }
        return String(cString: pointer)
    }
    public func blob(_ column: Int32) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(statement, column))
        guard count > 0, let pointer = sqlite3_column_blob(statement, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: pointer, count: count))
    }
}

import Foundation

/// One shard of a map: where its worker listens and what it is doing.
public struct MapShard: Sendable, Equatable {
    public var shard: UInt32
    public var url: String
    public var host: String
    /// "active", "joining", "draining" or "retired".
    public var state: String
    public init(shard: UInt32, url: String, host: String = "", state: String = "active") {
        self.shard = shard
        self.url = url
        self.host = host
        self.state = state
    }
}

/// A version of the shard map. Ids are placed by rendezvous over the shards not retired.
public struct ShardMap: Sendable, Equatable {
    public var version: UInt64
    public var shards: [MapShard]
    public init(version: UInt64, shards: [MapShard]) {
        self.version = version
        self.shards = shards.sorted { $0.shard < $1.shard }
    }
    /// The shards ids are placed over.
    public var placementShards: [UInt32] { shards.filter { $0.state != "retired" }.map(\.shard) }
}

/// The journal entry of a move from map `fromVersion` to map `toVersion`.
public struct MoveRecord: Sendable, Equatable {
    public enum Step: String, Sendable, CaseIterable {
        case planned, begin, copy, verify, flip, delete, done
    }
    public var fromVersion: UInt64
    public var toVersion: UInt64
    /// "add-worker" or "remove-worker".
    public var kind: String
    public var shard: UInt32
    public var step: Step
    public var copied: UInt64
    public var total: UInt64
    /// Entries per second at most; 0 = unlimited.
    public var rate: UInt32
    public var error: String
}

extension CatalogDatabase {
    /// The map in force, or nil before the first start recorded one.
    public func currentMap() throws(StoreError) -> ShardMap? {
        guard let bytes = try meta("map_version"), bytes.count == 8 else { return nil }
        return try map(version: bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) })
    }

    public func map(version: UInt64) throws(StoreError) -> ShardMap? {
        let select = try database.prepare("SELECT shard, url, host, state FROM shard_maps WHERE version = ? ORDER BY shard")
        try select.bind(1, Int64(bitPattern: version))
        var shards: [MapShard] = []
        while try select.step() {
            shards.append(MapShard(shard: UInt32(truncatingIfNeeded: select.int64(0)), url: select.text(1), host: select.text(2),
                                   state: select.text(3)))
        }
        return shards.isEmpty ? nil : ShardMap(version: version, shards: shards)
    }

    /// Records the first map (version 1) from the config's workers; a catalog that has a map keeps it.
    public func recordInitialMap(_ shards: [MapShard]) throws(StoreError) -> ShardMap {
        if let current = try currentMap() { return current }
        let map = ShardMap(version: 1, shards: shards)
        try inTransaction { () throws(StoreError) in
            try insertMap(map)
            try setMapVersion(1)
        }
        return map
    }

    /// Journals a move to `next` (the next map version) in the `planned` step. One move at a time.
    public func planMove(kind: String, shard: UInt32, next shards: [MapShard], rate: UInt32) throws(StoreError) -> MoveRecord {
        guard let current = try currentMap() else { throw .corrupt("the catalog holds no shard map yet") }
        if let active = try activeMove() {
            throw .busy("a \(active.kind) move of shard \(active.shard) to map \(active.toVersion) is in progress "
                        + "(step \(active.step.rawValue))")
        }
        let version = max(current.version, try highestMapVersion()) + 1
        let move = MoveRecord(fromVersion: current.version, toVersion: version, kind: kind, shard: shard, step: .planned,
                              copied: 0, total: 0, rate: rate, error: "")
        try inTransaction { () throws(StoreError) in
            try insertMap(ShardMap(version: version, shards: shards))
            let insert = try database.prepare("""
                INSERT INTO moves (to_version, from_version, kind, shard, step, copied, total, rate, error)
                VALUES (?, ?, ?, ?, ?, 0, 0, ?, '')
                """)
            try insert.bind(1, Int64(bitPattern: move.toVersion))
            try insert.bind(2, Int64(bitPattern: move.fromVersion))
            try insert.bind(3, kind)
            try insert.bind(4, Int64(shard))
            try insert.bind(5, move.step.rawValue)
            try insert.bind(6, Int64(rate))
            try insert.step()
        }
        return move
    }

    /// The move not yet done, if any.
    public func activeMove() throws(StoreError) -> MoveRecord? {
        try moves(where: "step <> 'done'").first
    }

    /// The most recent move, done or not.
    public func lastMove() throws(StoreError) -> MoveRecord? {
        try moves(where: "1").first
    }

    /// Advances a move. Reaching `flip` puts its map in force in the same transaction, so the
    /// flip is one durable step.
    public func setMoveStep(_ move: MoveRecord, _ step: MoveRecord.Step, error: String = "") throws(StoreError) {
        try inTransaction { () throws(StoreError) in
            let update = try database.prepare("UPDATE moves SET step = ?, error = ? WHERE to_version = ?")
            try update.bind(1, step.rawValue)
            try update.bind(2, error)
            try update.bind(3, Int64(bitPattern: move.toVersion))
            try update.step()
            if step == .flip { try setMapVersion(move.toVersion) }
        }
    }

    public func setMoveError(_ move: MoveRecord, _ error: String) throws(StoreError) {
        let update = try database.prepare("UPDATE moves SET error = ? WHERE to_version = ?")
        try update.bind(1, error)
        try update.bind(2, Int64(bitPattern: move.toVersion))
        try update.step()
    }

    public func setMoveProgress(_ move: MoveRecord, copied: UInt64, total: UInt64) throws(StoreError) {
        let update = try database.prepare("UPDATE moves SET copied = ?, total = ? WHERE to_version = ?")
        try update.bind(1, Int64(clamping: copied))
        try update.bind(2, Int64(clamping: total))
        try update.bind(3, Int64(bitPattern: move.toVersion))
        try update.step()
    }

    /// Where copying from `source` stands: the last id sent (nil: none yet) and whether it is done.
    public func moveCursor(_ move: MoveRecord, source: UInt32) throws(StoreError) -> (after: UInt64?, done: Bool) {
        let select = try database.prepare("SELECT after_id, done FROM move_cursors WHERE to_version = ? AND source = ?")
        try select.bind(1, Int64(bitPattern: move.toVersion))
        try select.bind(2, Int64(source))
        guard try select.step() else { return (nil, false) }
        return (select.isNull(0) ? nil : UInt64(bitPattern: select.int64(0)), select.int64(1) != 0)
    }

    public func setMoveCursor(_ move: MoveRecord, source: UInt32, after: UInt64?, done: Bool) throws(StoreError) {
        let upsert = try database.prepare("INSERT OR REPLACE INTO move_cursors (to_version, source, after_id, done) VALUES (?, ?, ?, ?)")
        try upsert.bind(1, Int64(bitPattern: move.toVersion))
        try upsert.bind(2, Int64(source))
        if let after { try upsert.bind(3, Int64(bitPattern: after)) } else { try upsert.bindNull(3) }
        try upsert.bind(4, done ? 1 : 0)
        try upsert.step()
    }

    /// Forgets the cursors of a move (its copy starts over).
    public func resetMoveCursors(_ move: MoveRecord) throws(StoreError) {
        let delete = try database.prepare("DELETE FROM move_cursors WHERE to_version = ?")
        try delete.bind(1, Int64(bitPattern: move.toVersion))
        try delete.step()
    }

    // MARK: - Internals

    private func moves(where condition: String) throws(StoreError) -> [MoveRecord] {
        let select = try database.prepare("""
            SELECT from_version, to_version, kind, shard, step, copied, total, rate, error FROM moves
            WHERE \(condition) ORDER BY to_version DESC
            """)
        var records: [MoveRecord] = []
        while try select.step() {
            guard let step = MoveRecord.Step(rawValue: select.text(4)) else { throw .corrupt("unknown move step \(select.text(4))") }
            records.append(MoveRecord(fromVersion: UInt64(bitPattern: select.int64(0)), toVersion: UInt64(bitPattern: select.int64(1)),
                                      kind: select.text(2), shard: UInt32(truncatingIfNeeded: select.int64(3)), step: step,
                                      copied: UInt64(clamping: select.int64(5)), total: UInt64(clamping: select.int64(6)),
                                      rate: UInt32(truncatingIfNeeded: select.int64(7)), error: select.text(8)))
        }
        return records
    }

    private func highestMapVersion() throws(StoreError) -> UInt64 {
        let select = try database.prepare("SELECT MAX(version) FROM shard_maps")
        try select.step()
        return select.isNull(0) ? 0 : UInt64(bitPattern: select.int64(0))
    }

    private func insertMap(_ map: ShardMap) throws(StoreError) {
        let insert = try database.prepare("INSERT OR REPLACE INTO shard_maps (version, shard, url, host, state) VALUES (?, ?, ?, ?, ?)")
        for shard in map.shards {
            insert.reset()
            try insert.bind(1, Int64(bitPattern: map.version))
            try insert.bind(2, Int64(shard.shard))
            try insert.bind(3, shard.url)
            try insert.bind(4, shard.host)
            try insert.bind(5, shard.state)
            try insert.step()
        }
    }

    private func setMapVersion(_ version: UInt64) throws(StoreError) {
        let upsert = try database.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('map_version', ?)")
        try upsert.bind(1, blob: withUnsafeBytes(of: version.littleEndian) { Array($0) })
        try upsert.step()
    }

    private func meta(_ key: String) throws(StoreError) -> [UInt8]? {
        let select = try database.prepare("SELECT value FROM meta WHERE key = ?")
        try select.bind(1, key)
        return try select.step() ? select.blob(0) : nil
    }

    func inTransaction(_ body: () throws(StoreError) -> Void) throws(StoreError) {
        do {
            try database.transaction { try body() }
        } catch let error as StoreError { throw error } catch { throw .corrupt("\(error)") }
    }
}

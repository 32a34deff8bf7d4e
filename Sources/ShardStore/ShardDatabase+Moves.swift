import Foundation

extension ShardDatabase {
    /// The placements the shard serves by (older first), as the coordinator last sent them.
    public func placements() throws(StoreError) -> [(version: UInt64, shards: [UInt32])] {
        guard let bytes = try meta("placements") else { return [] }
        var reader = ByteReader(bytes)
        guard let count = reader.uint32(), count <= 2 else { throw .corrupt("the stored placements are damaged") }
        var placements: [(version: UInt64, shards: [UInt32])] = []
        for _ in 0 ..< count {
            guard let version = reader.uint64(), let shardCount = reader.uint32(), shardCount <= 65_536 else {
                throw .corrupt("the stored placements are damaged")
            }
            var shards: [UInt32] = []
            for _ in 0 ..< shardCount {
                guard let shard = reader.uint32() else { throw .corrupt("the stored placements are truncated") }
                shards.append(shard)
            }
            placements.append((version, shards))
        }
        return placements
    }

    public func setPlacements(_ placements: [(version: UInt64, shards: [UInt32])]) throws(StoreError) {
        var bytes: [UInt8] = []
        func put<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
        put(UInt32(placements.count))
        for placement in placements {
            put(placement.version)
            put(UInt32(placement.shards.count))
            for shard in placement.shards { put(shard) }
        }
        try setMeta("placements", bytes)
    }

    /// Steps through the entries in id order after `after` (nil: from the first) and reads in
    /// full only those whose id `keep` accepts, until `limit` are kept or `scanLimit` rows were
    /// stepped over. Returns them, the last id stepped over, and whether the table ended.
    public func scan(after: UInt64?, limit: Int, scanLimit: Int,
                     keep: (UInt64) -> Bool) throws(StoreError) -> (entries: [StoredEntry], last: UInt64?, exhausted: Bool) {
        let statement = try database.prepare(after == nil
            ? "SELECT id, list, code, vector, label, key FROM entries ORDER BY id LIMIT ?"
            : "SELECT id, list, code, vector, label, key FROM entries WHERE id > ? ORDER BY id LIMIT ?")
        if let after {
            try statement.bind(1, Int64(bitPattern: after))
            try statement.bind(2, Int64(scanLimit))
        } else {
            try statement.bind(1, Int64(scanLimit))
        }
        var entries: [StoredEntry] = [], last = after, stepped = 0
        while entries.count < limit, try statement.step() {
            stepped += 1
            let id = UInt64(bitPattern: statement.int64(0))
            last = id
            // Columns other than the id are read only for kept rows.
            if keep(id) { entries.append(try entry(statement)) }
        }
        return (entries, last, stepped < scanLimit && entries.count < limit)
    }

    /// Deletes `ids` in transactions of at most `batch` ids; returns how many existed.
    public func deleteInBatches(_ ids: [UInt64], batch: Int = 10_000) throws(StoreError) -> Int {
        var deleted = 0
        for start in stride(from: 0, to: ids.count, by: batch) {
            deleted += try delete(Array(ids[start ..< min(ids.count, start + batch)])).count
        }
        return deleted
    }
}

/// Reads little-endian integers from a byte array; nil past the end.
struct ByteReader {
    let bytes: [UInt8]
    var offset = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func uint32() -> UInt32? { read(UInt32.self) }
    mutating func uint64() -> UInt64? { read(UInt64.self) }

    private mutating func read<T: FixedWidthInteger>(_: T.Type) -> T? {
        let size = MemoryLayout<T>.size
        guard bytes.count - offset >= size else { return nil }
        let value = bytes[offset ..< offset + size].withUnsafeBytes { T(littleEndian: $0.loadUnaligned(as: T.self)) }
        offset += size
        return value
    }
}

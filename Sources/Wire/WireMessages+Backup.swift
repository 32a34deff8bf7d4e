/// A step of a cluster backup (see `BackupRequest` in Proto/sightline.proto).
public enum BackupStep: Sendable, Equatable {
    /// Copy the catalog and every shard of the map, consistently.
    case snapshot
    /// A piece of one copy: the catalog's (`shard` nil) or a shard's.
    case read(shard: UInt32?, offset: UInt64, length: Int)
    /// Delete the copies.
    case finish

    /// The largest piece one read returns.
    public static let maxPiece = 16 << 20
}

/// One copy a snapshot made: the catalog's (`shard` nil) or a shard's, and its size.
public struct BackupPart: Sendable, Equatable, Codable {
    public var shard: UInt32?
    public var bytes: UInt64
    public init(shard: UInt32?, bytes: UInt64) {
        self.shard = shard
        self.bytes = bytes
    }
}

public enum BackupReply: Sendable, Equatable {
    case parts([BackupPart])
    case data([UInt8])
}

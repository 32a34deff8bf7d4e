/// A write's place in its shard's sequence (`Envelope.write_seq` / `write_prev_seq`): the
/// coordinator numbers each shard's writes so that a replica can tell whether it missed one.
public struct WriteSequence: Sendable, Equatable {
    public var seq: UInt64
    public var previous: UInt64
    public init(seq: UInt64, previous: UInt64) {
        self.seq = seq
        self.previous = previous
    }
}

/// What a catch-up asks of a peer replica (see `ReplicaPullRequest` in Proto/sightline.proto).
public enum ReplicaPull: Sendable, Equatable {
    /// The ids written after `afterSeq` (whole writes, at most `limit` ids), as the peer holds them now.
    case log(afterSeq: UInt64, limit: Int)
    /// The peer's entries after the id cursor, in id order.
    case full(afterID: UInt64?, limit: Int)
    /// Per-list counts and digests of the peer's entries.
    case digest

    /// The most entries one page carries.
    public static let maxPage = 4096
}

public struct ReplicaPage: Sendable, Equatable {
    public var entries: ShardTransfer
    /// LOG: ids written in the page's range that the peer no longer holds.
    public var absentIDs: [UInt64]
    /// LOG: the writes covered, up to this sequence number.
    public var upToSeq: UInt64
    /// FULL: the next cursor (nil: done).
    public var nextAfterID: UInt64?
    public var listCounts: [UInt32]
    public var listDigests: [UInt64]
    /// The peer's last applied sequence number when the page was read.
    public var lastSeq: UInt64
    public init(entries: ShardTransfer = ShardTransfer(codebookVersion: 0, ids: [], lists: [], codes: []), absentIDs: [UInt64] = [],
                upToSeq: UInt64 = 0, nextAfterID: UInt64? = nil, listCounts: [UInt32] = [], listDigests: [UInt64] = [],
                lastSeq: UInt64 = 0) {
        self.entries = entries
        self.absentIDs = absentIDs
        self.upToSeq = upToSeq
        self.nextAfterID = nextAfterID
        self.listCounts = listCounts
        self.listDigests = listDigests
        self.lastSeq = lastSeq
    }
}

/// A pulled page for the replica that catches up: entries stored (replacing), absent ids
/// deleted, the last sequence number set; `reset` empties the shard first.
public struct ReplicaApply: Sendable, Equatable {
    public var entries: ShardTransfer
    public var absentIDs: [UInt64]
    public var upToSeq: UInt64
    public var reset: Bool
    public init(entries: ShardTransfer, absentIDs: [UInt64] = [], upToSeq: UInt64, reset: Bool = false) {
        self.entries = entries
        self.absentIDs = absentIDs
        self.upToSeq = upToSeq
        self.reset = reset
    }
}

import Foundation
import Wire

/// The backup copy a service keeps in its data directory between a backup's snapshot and its
/// finish, read in pieces.
public struct BackupCopy: Sendable {
    public let path: String

    /// `name`: "catalog" or "shard", so a coordinator and a worker sharing a directory keep apart.
    public init(directory: String, name: String) { path = "\(directory)/\(name)-backup.sqlite" }

    /// `length` bytes from `offset` (fewer at the end; none past it).
    public func read(offset: UInt64, length: Int) throws -> [UInt8] {
        guard let file = FileHandle(forReadingAtPath: path) else {
            throw ErrorReply(.notFound, "no backup copy here: a backup starts with a snapshot")
        }
        defer { try? file.close() }
        let size = try file.seekToEnd()
        guard offset <= size else { throw ErrorReply(.badRequest, "offset \(offset) is past the copy's \(size) bytes") }
        try file.seek(toOffset: offset)
        return Array(try file.read(upToCount: min(length, BackupStep.maxPiece)) ?? Data())
    }

    public func remove() { try? FileManager.default.removeItem(atPath: path) }
}

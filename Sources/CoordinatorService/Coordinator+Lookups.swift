import ClusterModel
import ShardStore
import Wire

/// What the HTTP API and the web page need beyond the nng requests: thumbnails checked on the way
/// in, labels and keys of result ids, and which shards answer.
extension Coordinator {
    /// Checks an add's thumbnails before anything is stored: none, or one per id, each small.
    func checkThumbnails(of batch: AddBatch) throws {
        guard !batch.thumbnails.isEmpty else { return }
        guard thumbnails != nil else { throw ErrorReply(.badRequest, "this coordinator keeps no thumbnails") }
        guard batch.thumbnails.count == batch.ids.count else {
            throw ErrorReply(.badRequest, "thumbnails must be empty or one per id: \(batch.ids.count) ids, "
                                          + "\(batch.thumbnails.count) images")
        }
        if let row = batch.thumbnails.firstIndex(where: { $0.count > ThumbnailStore.maxBytes }) {
            throw ErrorReply(.badRequest, "the thumbnail of id \(batch.ids[row]) has \(batch.thumbnails[row].count) bytes "
                             + "(at most \(ThumbnailStore.maxBytes))")
        }
        // Served back to browsers as images: only PNG and JPEG bytes are kept.
        let isImage = { (bytes: [UInt8]) in
            bytes.isEmpty || bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]) || bytes.starts(with: [0xFF, 0xD8, 0xFF])
        }
        if let row = batch.thumbnails.firstIndex(where: { !isImage($0) }) {
            throw ErrorReply(.badRequest, "the thumbnail of id \(batch.ids[row]) is not a PNG or JPEG image")
        }
    }

    /// Label and key of each id from the catalog (nil where none was stored or the read failed).
    public func items(_ ids: [UInt64]) -> [(label: Int32?, key: String?)] {
        ids.map { id in ((try? catalog.item(id)) ?? nil).map { ($0.label, $0.key) } ?? (nil, nil) }
    }

    /// Shards in the map, and those with a copy whose breaker is closed.
    public func shardHealth() -> (shards: Int, up: Int) {
        let shards = routing.withLock { $0.readShards }
        return (shards.count, shards.filter { !shardCalls.everyCopySkipped($0) }.count)
    }
}

/// Small images per id for the web page, in the coordinator's `DIR/thumbnails.sqlite` (WAL):
/// display data only, kept apart from the catalog so that the catalog stays small to back up.
public final class ThumbnailStore: @unchecked Sendable {
    // Safe: every access goes through `database`, which serialises calls.
    let database: SQLiteDatabase
    /// Largest image kept for one id.
    public static let maxBytes = 65_536

    public init(directory: String, cluster: String) throws(StoreError) {
        database = try openClusterDatabase(directory: directory, file: "thumbnails.sqlite", cluster: cluster, schema: """
            CREATE TABLE IF NOT EXISTS thumbnails (id INTEGER PRIMARY KEY, image BLOB NOT NULL);
            """)
    }

    /// Stores (or replaces) the images of `ids`; an empty image stores nothing for its id.
    /// `onlyWhereMissing` keeps stored images (see `CatalogDatabase.recordItems`).
    public func put(ids: [UInt64], images: [[UInt8]], onlyWhereMissing: Bool = false) throws(StoreError) {
        precondition(ids.count == images.count, "one image per id")
        try inTransaction { () throws(StoreError) in
            let upsert = try database.prepare("INSERT OR \(onlyWhereMissing ? "IGNORE" : "REPLACE") "
                                              + "INTO thumbnails (id, image) VALUES (?, ?)")
            for (id, image) in zip(ids, images) where !image.isEmpty {
                upsert.reset()
                try upsert.bind(1, Int64(bitPattern: id))
                try upsert.bind(2, blob: image)
                try upsert.step()
            }
        }
    }

    public func image(of id: UInt64) throws(StoreError) -> [UInt8]? {
        let select = try database.prepare("SELECT image FROM thumbnails WHERE id = ?")
        try select.bind(1, Int64(bitPattern: id))
        return try select.step() ? select.blob(0) : nil
    }

    public func remove(ids: [UInt64]) throws(StoreError) {
        try inTransaction { () throws(StoreError) in
            let delete = try database.prepare("DELETE FROM thumbnails WHERE id = ?")
            for id in ids {
                delete.reset()
                try delete.bind(1, Int64(bitPattern: id))
                try delete.step()
            }
        }
    }

    /// Up to `count` ids that have an image, picked at random (the web page's query picker).
    public func sampleIDs(count: Int) throws(StoreError) -> [UInt64] {
        let select = try database.prepare("SELECT id FROM thumbnails ORDER BY random() LIMIT ?")
        try select.bind(1, Int64(max(0, count)))
        var ids: [UInt64] = []
        while try select.step() { ids.append(UInt64(bitPattern: select.int64(0))) }
        return ids
    }

    public var count: Int {
        guard let select = try? database.prepare("SELECT count(*) FROM thumbnails"), (try? select.step()) == true else { return 0 }
        return Int(select.int64(0))
    }

    func inTransaction(_ body: () throws(StoreError) -> Void) throws(StoreError) {
        do {
            try database.transaction { try body() }
        } catch let error as StoreError { throw error } catch { throw .corrupt("\(error)") }
    }
}

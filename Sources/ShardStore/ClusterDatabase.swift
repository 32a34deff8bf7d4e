import Foundation

/// Opens `directory/file` (creating the folder), applies `schema`, and records `cluster` in the
/// `meta` table on first use or refuses a database that belongs to another cluster.
func openClusterDatabase(directory: String, file: String, cluster: String, schema: String) throws(StoreError) -> SQLiteDatabase {
    do {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    } catch {
        throw .sqlite(operation: "create \(directory)", code: 0, message: "\(error.localizedDescription)")
    }
    let database = try SQLiteDatabase(path: directory + "/" + file)
    try database.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);\n" + schema)
    let select = try database.prepare("SELECT value FROM meta WHERE key = 'cluster'")
    if try select.step() {
        let found = String(decoding: select.blob(0), as: UTF8.self)
        guard found == cluster else { throw .otherCluster(found: found, expected: cluster) }
    } else {
        let insert = try database.prepare("INSERT INTO meta (key, value) VALUES ('cluster', ?)")
        try insert.bind(1, blob: Array(cluster.utf8))
        try insert.step()
    }
    return database
}

/// Vectors and id lists in two steps: `check…` walks and counts without allocating (so limits
/// hold before memory is spent), `read…` then reads the same bytes into an array reserved at
/// the checked size.
extension JSONReader {
    /// `[x, …]`: checks every number and returns the count.
    mutating func countNumbers(_ path: @autoclosure () -> String) throws -> Int {
        try readArray(path(), of: "numbers") { index, reader in _ = try reader.number("\(path())[\(index)]") }
    }

    /// `[[x, …], …]`: checks every number; refuses the row past `maxRows` before reading it
    /// (`tooMany`) and a row whose length is not `dimension` as soon as it ends
    /// (`wrongLength(row, length)`). Returns the count of rows.
    mutating func checkRows(_ path: String, dimension: Int, maxRows: Int = .max,
                            tooMany: () -> APIError = { APIError.badRequest("too many rows") },
                            wrongLength: (_ row: Int, _ length: Int) -> APIError) throws -> Int {
        try readArray(path, of: "vectors (arrays of numbers)", limit: maxRows, tooMany: tooMany) { row, reader in
            let length = try reader.countNumbers("\(path)[\(row)]")
            guard length == dimension else { throw wrongLength(row, length) }
        }
    }

    /// Reads `rows` rows of `dimension` numbers, checked by `checkRows` (or, for one row,
    /// `countNumbers` when `path` names a single vector), into one array of rows × dimension
    /// floats, row after row. A number beyond a float's range is a 400 naming its place.
    mutating func readFloats(_ path: String, rows: Int, dimension: Int, nested: Bool) throws -> [Float] {
        var values: [Float] = []
        values.reserveCapacity(rows * dimension)
        func row(_ reader: inout JSONReader, _ path: String) throws {
            _ = try reader.readArray(path, of: "numbers") { column, reader in values.append(try reader.float("\(path)[\(column)]")) }
        }
        if nested {
            _ = try readArray(path, of: "vectors (arrays of numbers)") { index, reader in try row(&reader, "\(path)[\(index)]") }
        } else {
            try row(&self, path)
        }
        return values
    }

    /// `[id, …]`: checks each id (a whole number 0 … 2^64 − 1); refuses the one past `limit`.
    mutating func countIDs(_ path: String, limit: Int = .max,
                           tooMany: () -> APIError = { APIError.badRequest("too many ids") }) throws -> Int {
        try readArray(path, of: "ids (whole numbers)", limit: limit, tooMany: tooMany) { index, reader in
            _ = try reader.unsigned("\(path)[\(index)]")
        }
    }

    /// Reads `count` ids checked by `countIDs`.
    mutating func readIDs(_ path: String, count: Int) throws -> [UInt64] {
        var ids: [UInt64] = []
        ids.reserveCapacity(count)
        _ = try readArray(path, of: "ids (whole numbers)") { index, reader in ids.append(try reader.unsigned("\(path)[\(index)]")) }
        return ids
    }

    /// `["…", …]`: checks each string; refuses the one past `limit`.
    mutating func countStrings(_ path: String, limit: Int = .max,
                               tooMany: () -> APIError = { APIError.badRequest("too many strings") }) throws -> Int {
        try readArray(path, of: "strings", limit: limit, tooMany: tooMany) { index, reader in try reader.skipString("\(path)[\(index)]") }
    }

    /// Reads `count` strings checked by `countStrings`, each turned into a `T` by `convert(index, text)`.
    mutating func readStrings<T>(_ path: String, count: Int, _ convert: (Int, String) throws -> T) throws -> [T] {
        var values: [T] = []
        values.reserveCapacity(count)
        _ = try readArray(path, of: "strings") { index, reader in
            values.append(try convert(index, try reader.string("\(path)[\(index)]")))
        }
        return values
    }
}

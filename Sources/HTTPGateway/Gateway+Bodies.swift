/// The JSON bodies of the routes, each read by `JSONReader` in two steps. One walk over the bytes
/// checks the structure and every limit the route has — query and id counts, each vector's
/// length against the collection's dimension, fields given twice — and refuses at the first
/// value past a limit, having allocated nothing. Only then are the checked arrays read, into
/// arrays reserved at their checked sizes (vectors as one flat array of count × dimension
/// floats). Unknown fields are checked and ignored; an optional field sent as null is absent.
///
/// Memory: a search decodes at most `maxQueries` × dimension floats (or `maxQueries` ids), a
/// verify two vectors or two images, an identify one; an add or a delete is bounded by its body
/// (docs/HTTP.md gives the arithmetic).
extension Gateway {
    /// Most queries, and most stored ids used as queries, one search may carry.
    static let maxQueries = 10_000

    struct SearchBody {
        /// `vector`: one query, `dimension` floats.
        var vector: [Float]?
        /// `vectors`: `count` queries, count × dimension floats row after row.
        var vectors: (count: Int, values: [Float])?
        /// `ids`: search with the stored vectors of these ids as queries.
        var ids: [UInt64]?
        var k: Int?
        var nprobe: Int?
        var refine: Int?
        /// `probe_ratio`: see `SearchOptions.probeRatio`; absent: 0 (all nprobe lists).
        var probeRatio: Float?
        /// `deadline_ms`.
        var deadlineMilliseconds: Int?
    }

    func readSearchBody(_ bytes: [UInt8]) throws -> SearchBody {
        let tooManyQueries = APIError.badRequest("more than \(Self.maxQueries) queries: send 1 … \(Self.maxQueries)")
        let tooManyIDs = APIError.badRequest("more than \(Self.maxQueries) ids: send 1 … \(Self.maxQueries)")
        func wrongDimension(_ row: Int, _ length: Int) -> APIError {
            .badRequest("wrong dimension: query \(row) has \(length) values; the collection holds \(dimension)-d vectors")
        }
        return try JSONReader.read(bytes) { reader in
            var body = SearchBody()
            var vector: Int?, vectors: (at: Int, count: Int)?, ids: (at: Int, count: Int)?
            try reader.readObject(names: ["vector", "vectors", "ids", "k", "nprobe", "refine", "probe_ratio",
                                          "deadline_ms"]) { name, reader in
                guard try !reader.readNull() else { return }
                let start = reader.position
                switch name {
                case "vector":
                    let length = try reader.countNumbers(".vector")
                    guard length == dimension else { throw wrongDimension(0, length) }
                    vector = start
                case "vectors":
                    vectors = (start, try reader.checkRows(".vectors", dimension: dimension, maxRows: Self.maxQueries,
                                                           tooMany: { tooManyQueries }, wrongLength: wrongDimension))
                case "ids": ids = (start, try reader.countIDs(".ids", limit: Self.maxQueries, tooMany: { tooManyIDs }))
                case "k": body.k = try reader.integer(".k")
                case "nprobe": body.nprobe = try reader.integer(".nprobe")
                case "refine": body.refine = try reader.integer(".refine")
                case "probe_ratio": body.probeRatio = try reader.float(".probe_ratio")
                default: body.deadlineMilliseconds = try reader.integer(".deadline_ms")
                }
            }
            if let vector {
                var values = reader.reader(at: vector)
                body.vector = try values.readFloats(".vector", rows: 1, dimension: dimension, nested: false)
            }
            if let vectors {
                var values = reader.reader(at: vectors.at)
                body.vectors = (vectors.count, try values.readFloats(".vectors", rows: vectors.count, dimension: dimension, nested: true))
            }
            if let ids {
                var values = reader.reader(at: ids.at)
                body.ids = try values.readIDs(".ids", count: ids.count)
            }
            return body
        }
    }

    struct VerifyBody {
        var ids: [UInt64]?
        /// `vectors`: `count` vectors (at most two), count × dimension floats.
        var vectors: (count: Int, values: [Float])?
        /// Two images, base64 (PNG or JPEG).
        var images: [String]?
        var threshold: Float?
    }

    func readVerifyBody(_ bytes: [UInt8]) throws -> VerifyBody {
        let tooMany = APIError.badRequest("send two vectors or two images, not more")
        return try JSONReader.read(bytes) { reader in
            var body = VerifyBody()
            var vectors: (at: Int, count: Int)?, ids: (at: Int, count: Int)?, images: (at: Int, count: Int)?
            try reader.readObject(names: ["ids", "vectors", "images", "threshold"]) { name, reader in
                guard try !reader.readNull() else { return }
                let start = reader.position
                switch name {
                case "ids":
                    ids = (start, try reader.countIDs(".ids", limit: 2, tooMany: { .badRequest("ids must hold two ids, not more") }))
                case "vectors":
                    vectors = (start, try reader.checkRows(".vectors", dimension: dimension, maxRows: 2,
                                                           tooMany: { tooMany }) { row, length in
                        .badRequest("wrong dimension: vectors[\(row)] has \(length) values; the collection holds \(dimension)-d vectors")
                    })
                case "images": images = (start, try reader.countStrings(".images", limit: 2, tooMany: { tooMany }))
                default: body.threshold = try reader.float(".threshold")
                }
            }
            if let ids {
                var values = reader.reader(at: ids.at)
                body.ids = try values.readIDs(".ids", count: ids.count)
            }
            if let vectors {
                var values = reader.reader(at: vectors.at)
                body.vectors = (vectors.count, try values.readFloats(".vectors", rows: vectors.count, dimension: dimension, nested: true))
            }
            if let images {
                var values = reader.reader(at: images.at)
                body.images = try values.readStrings(".images", count: images.count) { $1 }
            }
            return body
        }
    }

    struct IdentifyBody {
        var vector: [Float]?
        /// One image, base64 (PNG or JPEG).
        var image: String?
        var threshold: Float?
        var nprobe: Int?
    }

    func readIdentifyBody(_ bytes: [UInt8]) throws -> IdentifyBody {
        try JSONReader.read(bytes) { reader in
            var body = IdentifyBody()
            var vector: Int?
            try reader.readObject(names: ["vector", "image", "threshold", "nprobe"]) { name, reader in
                guard try !reader.readNull() else { return }
                let start = reader.position
                switch name {
                case "vector":
                    let length = try reader.countNumbers(".vector")
                    guard length == dimension else {
                        throw APIError.badRequest("wrong dimension: the vector has \(length) values; "
                                                  + "the collection holds \(dimension)-d vectors")
                    }
                    vector = start
                case "image": body.image = try reader.string(".image")
                case "threshold": body.threshold = try reader.float(".threshold")
                default: body.nprobe = try reader.integer(".nprobe")
                }
            }
            if let vector {
                var values = reader.reader(at: vector)
                body.vector = try values.readFloats(".vector", rows: 1, dimension: dimension, nested: false)
            }
            return body
        }
    }

    struct AddBody {
        var ids: [UInt64]
        /// One vector per id: ids.count × dimension floats.
        var vectors: [Float]
        var labels: [Int32]?
        var keys: [String]?
        /// One small image per id (decoded from base64: PNG or JPEG), shown by the web page.
        var thumbnails: [[UInt8]]?
    }

    /// An add is bounded by its body, not by a count: the walk checks every vector's length and
    /// that there is one vector per id before anything is read.
    func readAddBody(_ bytes: [UInt8]) throws -> AddBody {
        try JSONReader.read(bytes) { reader in
            var ids: (at: Int, count: Int)?, vectors: (at: Int, count: Int)?, labels: (at: Int, count: Int)?
            var keys: (at: Int, count: Int)?, thumbnails: (at: Int, count: Int)?
            try reader.readObject(names: ["ids", "vectors", "labels", "keys", "thumbnails"]) { name, reader in
                let required = name == "ids" || name == "vectors"
                guard try !reader.readNull() else {
                    if required { throw APIError.badRequest("null at .\(name)") }
                    return
                }
                let start = reader.position
                switch name {
                case "ids": ids = (start, try reader.countIDs(".ids"))
                case "vectors":
                    vectors = (start, try reader.checkRows(".vectors", dimension: dimension) { row, length in
                        .badRequest("wrong dimension: vectors[\(row)] has \(length) values; the collection holds \(dimension)-d vectors")
                    })
                case "labels":
                    labels = (start, try reader.readArray(".labels", of: "labels (whole numbers)") { index, reader in
                        _ = try reader.label(".labels[\(index)]")
                    })
                case "keys": keys = (start, try reader.countStrings(".keys"))
                default: thumbnails = (start, try reader.countStrings(".thumbnails"))
                }
            }
            guard let ids else { throw APIError.badRequest("missing field \"ids\"") }
            guard let vectors else { throw APIError.badRequest("missing field \"vectors\"") }
            guard ids.count == vectors.count else {
                throw APIError.badRequest("\(ids.count) ids but \(vectors.count) vectors: send one vector per id")
            }
            var values = reader.reader(at: ids.at)
            var body = AddBody(ids: try values.readIDs(".ids", count: ids.count), vectors: [])
            values = reader.reader(at: vectors.at)
            body.vectors = try values.readFloats(".vectors", rows: vectors.count, dimension: dimension, nested: true)
            if let labels {
                values = reader.reader(at: labels.at)
                var read: [Int32] = []
                read.reserveCapacity(labels.count)
                _ = try values.readArray(".labels", of: "labels (whole numbers)") { index, reader in
                    read.append(try reader.label(".labels[\(index)]"))
                }
                body.labels = read
            }
            if let keys {
                values = reader.reader(at: keys.at)
                body.keys = try values.readStrings(".keys", count: keys.count) { $1 }
            }
            if let thumbnails {
                values = reader.reader(at: thumbnails.at)
                body.thumbnails = try values.readStrings(".thumbnails", count: thumbnails.count) { index, text in
                    try decodeBase64(text, "thumbnails[\(index)]")
                }
            }
            return body
        }
    }

    func readDeleteBody(_ bytes: [UInt8]) throws -> [UInt64] {
        try JSONReader.read(bytes) { reader in
            var ids: (at: Int, count: Int)?
            try reader.readObject(names: ["ids"]) { _, reader in
                guard try !reader.readNull() else { throw APIError.badRequest("null at .ids") }
                ids = (reader.position, try reader.countIDs(".ids"))
            }
            guard let ids else { throw APIError.badRequest("missing field \"ids\"") }
            var values = reader.reader(at: ids.at)
            return try values.readIDs(".ids", count: ids.count)
        }
    }
}

extension JSONReader {
    /// A label: a whole number that fits 32 bits.
    mutating func label(_ path: @autoclosure () -> String) throws -> Int32 {
        let value = try integer(path())
        guard let label = Int32(exactly: value) else {
            throw APIError.badRequest("\(path()) = \(value) is outside \(Int32.min) … \(Int32.max), the range of a label")
        }
        return label
    }
}

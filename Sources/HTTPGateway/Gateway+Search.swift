import ErrorKinds
import Foundation
import Wire

/// Search, verify and identify: by vector, by stored id or by image.
extension Gateway {
    struct Hits: Encodable {
        var ids: [UInt64]
        var distances: [Float]
        var labels: [Int32?]
        var keys: [String?]
    }

    struct SearchResult: Encodable {
        var results: [Hits]
        var partial: Bool
        var missing_shards: [UInt32]
    }

    func search(_ request: HTTPRequest) throws -> SearchResult {
        let body = try readSearchBody(request.body)
        let given = [body.vector != nil, body.vectors != nil, body.ids != nil].filter { $0 }.count
        guard given == 1 else { throw APIError.badRequest("give exactly one of vector, vectors or ids") }
        // Checked before stored vectors are fetched for `ids`.
        let options = try searchOptions(k: body.k, nprobe: body.nprobe, refine: body.refine, probeRatio: body.probeRatio)
        let queries: [Float]
        if let ids = body.ids {
            queries = try storedVectors(ids, request)
        } else if let vectors = body.vectors {
            // The reader refused more than maxQueries and every vector of another dimension.
            guard vectors.count >= 1 else { throw APIError.badRequest("0 queries: send 1 … \(Self.maxQueries)") }
            queries = vectors.values
        } else {
            queries = body.vector ?? []
        }
        return try runSearch(queries, options, deadline: body.deadlineMilliseconds, request)
    }

    /// POST /v1/search/image: the body is the image itself (PNG or JPEG); k, nprobe, refine and
    /// probe_ratio come from the query string.
    func searchImage(_ request: HTTPRequest) throws -> SearchResult {
        func number(_ name: String) throws -> Int? {
            guard let text = request.query[name] else { return nil }
            guard let value = Int(text) else { throw APIError.badRequest("\(name) = \(text) is not a whole number") }
            return value
        }
        var probeRatio: Float?
        if let text = request.query["probe_ratio"] {
            guard let value = Float(text) else { throw APIError.badRequest("probe_ratio = \(text) is not a number") }
            probeRatio = value
        }
        // The query string is checked, ranges too, before the image costs a decode.
        let options = try searchOptions(k: try number("k"), nprobe: try number("nprobe"), refine: try number("refine"),
                                        probeRatio: probeRatio)
        let deadline = try number("deadline_ms")
        let vector = try requireEmbedder().embed(request.body, name: "the uploaded image")
        return try runSearch(vector, options, deadline: deadline, request)
    }

    /// The search options of a request, each bounded (absent: the defaults).
    func searchOptions(k: Int?, nprobe: Int?, refine: Int?, probeRatio: Float?) throws -> SearchOptions {
        let ratio = probeRatio ?? 0
        guard SearchOptions.isValidProbeRatio(ratio) else {
            throw APIError.badRequest("probe_ratio = \(ratio) is out of range: use 0 (off) or 1 … \(Int(SearchOptions.maxProbeRatio))")
        }
        return SearchOptions(k: try bounded(k, "k", default: 10, in: 1 ... 1000),
                             nprobe: try bounded(nprobe, "nprobe", default: 0, in: 0 ... 1 << 20),
                             refine: try bounded(refine, "refine", default: 0, in: 0 ... 64), probeRatio: ratio)
    }

    /// Runs `queries` (count × dimension floats, query after query) as one search batch.
    func runSearch(_ queries: [Float], _ options: SearchOptions, deadline: Int?, _ request: HTTPRequest) throws -> SearchResult {
        let batch = VectorBatch(dimension: dimension, values: queries)
        let reply = try call(.searchBatch(batch, options: options), request, deadlineMilliseconds: deadline)
        guard case .searchBatch(let answer) = reply else { throw APIError(.internalError, "unexpected reply") }
        let results = answer.results.map { list -> Hits in
            let items = backend.items(list.ids)
            return Hits(ids: list.ids, distances: list.distances, labels: items.map(\.label), keys: items.map(\.key))
        }
        return SearchResult(results: results, partial: answer.partial, missing_shards: answer.missingShards)
    }

    /// The stored vectors of `ids`, in order, as ids.count × dimension floats; a clear 404 for
    /// the first id not stored.
    func storedVectors(_ ids: [UInt64], _ request: HTTPRequest) throws -> [Float] {
        guard (1 ... Self.maxQueries).contains(ids.count) else {
            throw APIError.badRequest("\(ids.count) ids: send 1 … \(Self.maxQueries)")
        }
        guard case .fetchVectors(let fetched) = try call(.fetchVectors(ids: ids), request) else {
            throw APIError(.internalError, "unexpected reply")
        }
        let width = Int(fetched.dimension)
        guard width == dimension, fetched.values.count == fetched.found.count * width else {
            throw APIError(.internalError, "the cluster sent vectors of another size")
        }
        var rowOf: [UInt64: Int] = [:]
        for (row, id) in fetched.found.enumerated() { rowOf[id] = row }
        var values: [Float] = []
        values.reserveCapacity(ids.count * width)
        for id in ids {
            guard let row = rowOf[id] else { throw APIError(.notFound, "id \(id) is not stored") }
            values.append(contentsOf: fetched.values[row * width ..< (row + 1) * width])
        }
        return values
    }

    struct VerifyResult: Encodable {
        var distance: Float
        var threshold: Float
        var same: Bool
        var approximate: Bool
    }

    func verify(_ request: HTTPRequest) throws -> VerifyResult {
        let body = try readVerifyBody(request.body)
        let given = [body.ids != nil, body.vectors != nil, body.images != nil].filter { $0 }.count
        guard given == 1 else { throw APIError.badRequest("give exactly one of ids, vectors or images (two of them)") }
        guard let threshold = body.threshold ?? embedder?.verificationThreshold else {
            throw APIError.badRequest("give threshold: the collection's descriptor model carries no calibrated one")
        }
        guard threshold.isFinite, threshold >= 0 else { throw APIError.badRequest("threshold must be a finite number ≥ 0") }
        let query: VerifyQuery
        if let ids = body.ids {
            guard ids.count == 2 else { throw APIError.badRequest("ids must hold two ids, not \(ids.count)") }
            query = .ids(a: ids[0], b: ids[1], threshold: threshold)
        } else {
            let count = body.vectors?.count ?? body.images?.count ?? 0
            guard count == 2 else { throw APIError.badRequest("send two vectors or two images, not \(count)") }
            let pair: [[Float]]
            if let vectors = body.vectors {
                // The reader checked both vectors' dimension.
                pair = [Array(vectors.values[..<dimension]), Array(vectors.values[dimension...])]
            } else {
                pair = try (body.images ?? []).enumerated().map { position, text in
                    try requireEmbedder().embed(try decodeBase64(text, "images[\(position)]"), name: "images[\(position)]")
                }
            }
            guard pair.count == 2 else { throw APIError.badRequest("send two vectors or two images, not \(pair.count)") }
            if let row = pair.firstIndex(where: { $0.count != dimension }) {
                throw APIError.badRequest("wrong dimension: vectors[\(row)] has \(pair[row].count) values; the collection holds "
                                          + "\(dimension)-d vectors")
            }
            query = .vectors(a: pair[0], b: pair[1], threshold: threshold)
        }
        guard case .verify(let distance, let same, let approximate) = try call(.verify(query), request) else {
            throw APIError(.internalError, "unexpected reply")
        }
        return VerifyResult(distance: distance, threshold: threshold, same: same, approximate: approximate)
    }

    struct IdentifyResult: Encodable {
        var found: Bool
        var id: UInt64?
        var label: Int32?
        var key: String?
        var distance: Float
        var threshold: Float
        var partial: Bool
    }

    func identify(_ request: HTTPRequest) throws -> IdentifyResult {
        let body = try readIdentifyBody(request.body)
        guard (body.vector == nil) != (body.image == nil) else { throw APIError.badRequest("give exactly one of vector or image") }
        guard let threshold = body.threshold ?? embedder?.identificationThreshold else {
            throw APIError.badRequest("give threshold: the collection's descriptor model carries no calibrated one")
        }
        guard threshold.isFinite, threshold >= 0 else { throw APIError.badRequest("threshold must be a finite number ≥ 0") }
        let vector = try body.vector ?? requireEmbedder().embed(try decodeBase64(body.image!, "image"), name: "image")
        guard vector.count == dimension else {
            throw APIError.badRequest("wrong dimension: the vector has \(vector.count) values; the collection holds \(dimension)-d vectors")
        }
        let nprobe = try bounded(body.nprobe, "nprobe", default: 0, in: 0 ... 1 << 20)
        guard case .identify(let answer) = try call(.identify(vector: vector, threshold: threshold, nprobe: nprobe), request) else {
            throw APIError(.internalError, "unexpected reply")
        }
        return IdentifyResult(found: answer.found, id: answer.found ? answer.id : nil, label: answer.label,
                              key: answer.key.isEmpty ? nil : answer.key, distance: answer.distance, threshold: threshold,
                              partial: answer.partial)
    }
}

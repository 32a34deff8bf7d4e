import Wire

/// Adding and deleting vectors.
extension Gateway {
    struct AddBody: Decodable {
        var ids: [UInt64]
        var vectors: [[Float]]
        var labels: [Int32]?
        var keys: [String]?
        /// One small image per id, base64 (PNG or JPEG), shown by the web page.
        var thumbnails: [String]?
    }

    struct AddResult: Encodable {
        var added: UInt64
        var ignored: UInt64
    }

    func addVectors(_ request: HTTPRequest) throws -> AddResult {
        let body = try decode(AddBody.self, request)
        guard body.ids.count == body.vectors.count else {
            throw APIError.badRequest("\(body.ids.count) ids but \(body.vectors.count) vectors: send one vector per id")
        }
        if let row = body.vectors.firstIndex(where: { $0.count != dimension }) {
            throw APIError.badRequest("wrong dimension: vectors[\(row)] has \(body.vectors[row].count) values; the collection holds "
                                      + "\(dimension)-d vectors")
        }
        let thumbnails = try (body.thumbnails ?? []).enumerated().map { try decodeBase64($1, "thumbnails[\($0)]") }
        let batch = AddBatch(ids: body.ids, vectors: VectorBatch(dimension: dimension, values: body.vectors.flatMap { $0 }),
                             labels: body.labels ?? [], keys: body.keys ?? [], thumbnails: thumbnails)
        guard case .add(let added, let ignored, _) = try call(.add(batch), request) else {
            throw APIError(status: 500, code: "INTERNAL", message: "unexpected reply")
        }
        return AddResult(added: added, ignored: ignored)
    }

    struct DeleteBody: Decodable {
        var ids: [UInt64]
    }

    struct DeleteResult: Encodable {
        var deleted: UInt64
    }

    func deleteVectors(_ request: HTTPRequest) throws -> DeleteResult {
        let body = try decode(DeleteBody.self, request)
        guard case .delete(let deleted) = try call(.delete(ids: body.ids), request) else {
            throw APIError(status: 500, code: "INTERNAL", message: "unexpected reply")
        }
        return DeleteResult(deleted: deleted)
    }
}

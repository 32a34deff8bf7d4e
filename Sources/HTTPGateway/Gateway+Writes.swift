import ErrorKinds
import Wire

/// Adding and deleting vectors.
extension Gateway {
    struct AddResult: Encodable {
        var added: UInt64
        var ignored: UInt64
    }

    func addVectors(_ request: HTTPRequest) throws -> AddResult {
        // The reader checked one vector per id, each of the collection's dimension.
        let body = try readAddBody(request.body)
        let batch = AddBatch(ids: body.ids, vectors: VectorBatch(dimension: dimension, values: body.vectors),
                             labels: body.labels ?? [], keys: body.keys ?? [], thumbnails: body.thumbnails ?? [])
        guard case .add(let added, let ignored, _) = try call(.add(batch), request) else {
            throw APIError(.internalError, "unexpected reply")
        }
        return AddResult(added: added, ignored: ignored)
    }

    struct DeleteResult: Encodable {
        var deleted: UInt64
    }

    func deleteVectors(_ request: HTTPRequest) throws -> DeleteResult {
        let ids = try readDeleteBody(request.body)
        guard case .delete(let deleted) = try call(.delete(ids: ids), request) else {
            throw APIError(.internalError, "unexpected reply")
        }
        return DeleteResult(deleted: deleted)
    }
}

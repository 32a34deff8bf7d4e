import ShardStore
import VectorIndex
import VectorMath

/// The in-memory shard: the codebook version and the index holding the shard's vectors.
struct ShardIndex: Sendable {
    var version: UInt64
    var index: IVFPQIndex

    mutating func load(_ entries: [StoredEntry]) throws {
        let m = index.codeSize
        var ids: [VectorID] = [], lists: [Int32] = [], codes: [UInt8] = [], vectors: [Float] = []
        for entry in entries {
            guard entry.code.count == m, entry.list >= 0, Int(entry.list) < index.listCount else {
                throw StoreError.corrupt("entry \(entry.id) has a \(entry.code.count)-byte code in list \(entry.list)")
            }
            ids.append(VectorID(entry.id))
            lists.append(entry.list)
            codes.append(contentsOf: entry.code)
            if index.configuration.storesVectors {
                guard let vector = entry.vector else { throw StoreError.corrupt("entry \(entry.id) lacks its stored vector") }
                vectors.append(contentsOf: vector)
            }
        }
        let matrix = index.configuration.storesVectors ? try Matrix(dimension: index.dimension, values: vectors) : nil
        index.append(matrix, ids: ids, lists: lists, codes: codes)
        index.compact()
    }
}

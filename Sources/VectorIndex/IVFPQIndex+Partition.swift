import VectorMath

extension IVFPQIndex {
    /// The same trained index with no entries (codebooks shared, lists empty).
    public var emptyCopy: IVFPQIndex {
        var copy = self
        copy.lists = Array(repeating: InvertedList(), count: listCount)
        return copy
    }

    /// Redistributes the entries of `indexes` (which share their codebooks) over `partCount`
    /// empty copies: each entry goes to `part(id)`, or is dropped when that is nil. Entries
    /// keep their list, code and stored vector, so no vector is re-encoded.
    /// - Complexity: O(n) over all entries.
    public static func partition(_ indexes: [IVFPQIndex], into partCount: Int, by part: (UInt64) -> Int?) -> [IVFPQIndex] {
        precondition(!indexes.isEmpty && partCount > 0, "callers pass at least one index and one part")
        var parts = Array(repeating: indexes[0].emptyCopy, count: partCount)
        let m = indexes[0].codeSize, dimension = indexes[0].dimension
        for index in indexes {
            for (number, list) in index.lists.enumerated() {
                for position in 0 ..< list.count {
                    guard let target = part(list.ids[position]) else { continue }
                    parts[target].lists[number].ids.append(list.ids[position])
                    parts[target].lists[number].codes.append(contentsOf: list.codes[position * m ..< (position + 1) * m])
                    if !list.vectors.isEmpty {
                        parts[target].lists[number].vectors
                            .append(contentsOf: list.vectors[position * dimension ..< (position + 1) * dimension])
                    }
                }
            }
        }
        for index in parts.indices { parts[index].compact() }
        return parts
    }
}

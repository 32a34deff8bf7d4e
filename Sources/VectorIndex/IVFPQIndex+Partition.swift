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
        let template = indexes[0]
        let m = template.codeSize, dimension = template.dimension
        var parts = Array(repeating: template.emptyCopy, count: partCount)
        var targets: [Int] = []
        for number in 0 ..< template.listCount {
            // Each list's entries are placed first, so every part's list is sized once.
            targets.removeAll(keepingCapacity: true)
            var sizes = Array(repeating: 0, count: partCount)
            for index in indexes {
                for id in index.lists[number].ids {
                    let target = part(id) ?? -1
                    targets.append(target)
                    if target >= 0 { sizes[target] += 1 }
                }
            }
            var lists = (0 ..< partCount).map { target -> InvertedList in
                var list = InvertedList()
                list.ids.reserveCapacity(sizes[target])
                list.codes.reserveCapacity(sizes[target] * m)
                if template.configuration.storesVectors { list.vectors.reserveCapacity(sizes[target] * dimension) }
                if template.configuration.storesScalarCodes { list.scalarCodes.reserveCapacity(sizes[target] * dimension) }
                return list
            }
            var row = 0
            for index in indexes {
                let list = index.lists[number]
                list.codes.withUnsafeBufferPointer { codes in
                    list.vectors.withUnsafeBufferPointer { vectors in
                        for position in 0 ..< list.count {
                            defer { row += 1 }
                            let target = targets[row]
                            guard target >= 0 else { continue }
                            lists[target].ids.append(list.ids[position])
                            lists[target].codes.append(
                                contentsOf: UnsafeBufferPointer(rebasing: codes[position * m ..< (position + 1) * m]))
                            if !vectors.isEmpty {
                                lists[target].vectors.append(
                                    contentsOf: UnsafeBufferPointer(rebasing: vectors[position * dimension ..< (position + 1) * dimension]))
                            }
                            if !list.scalarCodes.isEmpty {
                                lists[target].scalarCodes.append(
                                    contentsOf: list.scalarCodes[position * dimension ..< (position + 1) * dimension])
                            }
                        }
                    }
                }
            }
            for target in 0 ..< partCount { parts[target].lists[number] = lists[target] }
        }
        for target in 0 ..< partCount { parts[target].refreshFastScanLayout() }
        return parts
    }
}

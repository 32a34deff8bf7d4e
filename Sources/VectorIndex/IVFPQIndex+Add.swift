import Quantization
import VectorMath

extension IVFPQIndex {
    /// Adds `vectors` under `ids` (one id per row, unique within the batch).
    ///
    /// Ids are not checked against the vectors already indexed: adding an id twice keeps two
    /// entries (the worker's store enforces uniqueness across batches).
    /// - Complexity: coarse assignment `2 · n · nlist · d` flops plus PQ encoding `2 · n · 256 · d`.
    public mutating func add(_ vectors: Matrix, ids: [VectorID], threads: Int = 1) throws(VectorIndexError) {
        let assignment = try prepareAdd(vectors, ids: ids, threads: threads)
        append(vectors, ids: ids, lists: assignment.lists, codes: assignment.codes)
    }

    /// Coarse lists and PQ codes for a batch, without changing the index (so a failing batch
    /// leaves the index untouched, and a store can persist the codes before they are applied).
    public func prepareAdd(_ vectors: Matrix, ids: [VectorID],
                           threads: Int = 1) throws(VectorIndexError) -> (lists: [Int32], codes: [UInt8]) {
        guard vectors.dimension == dimension else { throw .dimensionMismatch(expected: dimension, got: vectors.dimension) }
        guard vectors.rowCount == ids.count else { throw .idCountMismatch(vectors: vectors.rowCount, ids: ids.count) }
        if let row = vectors.firstNonFiniteRow() { throw .nonFinite(what: "input", row: row) }
        var seen = Set<VectorID>(minimumCapacity: ids.count)
        for id in ids where !seen.insert(id).inserted { throw .duplicateID(id) }
        let labels = assignNearest(vectors, to: coarseCentroids, threads: threads).labels
        var residualVectors = IVFPQIndex.residuals(vectors, centroids: coarseCentroids, labels: labels)
        if let rotation { residualVectors = OPQ.rotate(residualVectors, by: rotation) }
        do {
            return (labels, try quantizer.encode(residualVectors, threads: threads))
        } catch {
            throw .quantization(error)
        }
    }

    /// Appends already encoded entries. `codes` holds `ids.count × m` bytes; `vectors` is read
    /// only when the index stores full vectors.
    public mutating func append(_ vectors: Matrix?, ids: [VectorID], lists listNumbers: [Int32], codes: [UInt8]) {
        precondition(listNumbers.count == ids.count && codes.count == ids.count * codeSize, "callers pass matching batches")
        let m = codeSize, dimension = self.dimension
        let scalarCodes = vectors.flatMap { vectors in scalarQuantizer.map { $0.encode(vectors) } }
        for row in 0 ..< ids.count {
            let list = Int(listNumbers[row])
            lists[list].ids.append(ids[row].rawValue)
            lists[list].codes.append(contentsOf: codes[row * m ..< (row + 1) * m])
            if configuration.storesVectors, let vectors {
                lists[list].vectors.append(contentsOf: vectors.values[row * dimension ..< (row + 1) * dimension])
            }
            if let scalarCodes { lists[list].scalarCodes.append(contentsOf: scalarCodes[row * dimension ..< (row + 1) * dimension]) }
        }
        refreshFastScanLayout()
    }

    /// Removes every entry whose id is in `ids`; returns how many were removed.
    /// - Complexity: O(n) over the whole index.
    @discardableResult
    public mutating func remove(_ ids: Set<VectorID>) -> Int {
        guard !ids.isEmpty else { return 0 }
        let m = codeSize, dimension = self.dimension
        var removed = 0
        for listNumber in lists.indices {
            let list = lists[listNumber]
            guard list.ids.contains(where: { ids.contains(VectorID($0)) }) else { continue }
            var kept = InvertedList()
            for position in 0 ..< list.count where !ids.contains(VectorID(list.ids[position])) {
                kept.ids.append(list.ids[position])
                kept.codes.append(contentsOf: list.codes[position * m ..< (position + 1) * m])
                if !list.vectors.isEmpty {
                    kept.vectors.append(contentsOf: list.vectors[position * dimension ..< (position + 1) * dimension])
                }
                if !list.scalarCodes.isEmpty {
                    kept.scalarCodes.append(contentsOf: list.scalarCodes[position * dimension ..< (position + 1) * dimension])
                }
            }
            removed += list.count - kept.count
            lists[listNumber] = kept
        }
        refreshFastScanLayout()
        return removed
    }

    /// Checks that every code byte names one of the `2^bits` sub-centroids (any byte does for
    /// 8-bit codes): codes that come from a file or a peer are checked before they are appended.
    public func checkCodes(_ codes: [UInt8]) throws(VectorIndexError) {
        let ksub = quantizer.centroidsPerSubspace
        guard ksub < 256 else { return }
        if let bad = codes.firstIndex(where: { Int($0) >= ksub }) {
            throw .corruptFile("code byte \(codes[bad]) at \(bad) is not a \(quantizer.bitsPerCode)-bit code")
        }
    }

    /// Drops spare array capacity after a bulk build.
    public mutating func compact() {
        for index in lists.indices { lists[index].compact() }
    }

    /// Memory held by the index, split into what grows with the vectors and what does not.
    public var memoryUsage: (perVectorBytes: Int, fixedBytes: Int) {
        let lists = self.lists.reduce(0) { $0 + $1.allocatedBytes }
        let fixed = coarseCentroids.values.count * 4 + quantizer.centroids.count * 4 + codebooksByColumn.count * 4
            + (scalarQuantizer?.dimension ?? 0) * 8 + (rotation?.values.count ?? 0) * 4
            + precomputedTerms.count * 4 + centroidNorms.count * 4
        return (lists, fixed)
    }

    /// Checks the structural invariants: every list's arrays agree in length, every id appears
    /// once. Used by tests and after loading a file.
    public func checkInvariants() throws(VectorIndexError) {
        var seen = Set<UInt64>()
        for (number, list) in lists.enumerated() {
            guard list.codes.count == list.count * codeSize else {
                throw .corruptFile("list \(number) holds \(list.codes.count) code bytes for \(list.count) ids")
            }
            let expectedVectors = configuration.storesVectors ? list.count * dimension : 0
            guard list.vectors.count == expectedVectors else {
                throw .corruptFile("list \(number) holds \(list.vectors.count) vector values, expected \(expectedVectors)")
            }
            let expectedScalarCodes = configuration.storesScalarCodes ? list.count * dimension : 0
            guard list.scalarCodes.count == expectedScalarCodes else {
                throw .corruptFile("list \(number) holds \(list.scalarCodes.count) 8-bit refine codes, expected \(expectedScalarCodes)")
            }
            for id in list.ids where !seen.insert(id).inserted {
                throw .corruptFile("id \(id) is stored twice")
            }
            try checkCodes(list.codes)
        }
    }
}

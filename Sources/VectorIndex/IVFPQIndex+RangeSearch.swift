import Quantization
import VectorMath

/// Range search: every stored vector within a distance of each query, found through the probed
/// inverted lists and confirmed with exact distances on the stored vectors (refine).
public struct RangeSearchParameters: Sendable, Equatable {
    /// Results are the vectors whose exact distance to the query is at most this.
    public var radius: Float
    /// ADC distances up to this make a vector a candidate for the exact check. ADC is off by the
    /// codes' quantisation error, so it must exceed `radius` for good recall (see
    /// `IVFPQIndex.candidateRadius(for:)`).
    public var candidateRadius: Float
    public var probeCount: Int
    public var threads: Int

    public init(radius: Float, candidateRadius: Float, probeCount: Int, threads: Int = 1) {
        self.radius = radius
        self.candidateRadius = candidateRadius
        self.probeCount = probeCount
        self.threads = threads
    }
}

extension IVFPQIndex {
    /// For each query, the stored vectors within `parameters.radius` (exact distance), nearest
    /// first, ties by id. Needs an index built with `storesVectors`.
    /// - Complexity per query: that of `search` without the heap, plus `d` flops per candidate.
    public func rangeSearch(_ queries: Matrix, parameters: RangeSearchParameters) throws(VectorIndexError) -> [[Neighbor]] {
        guard configuration.storesVectors else { throw .refineNeedsVectors }
        guard parameters.radius.isFinite, parameters.radius >= 0, parameters.candidateRadius >= parameters.radius else {
            throw .invalidParameter("radius \(parameters.radius) must be ≥ 0 and the candidate radius "
                                    + "\(parameters.candidateRadius) at least the radius")
        }
        try validate(queries, SearchParameters(k: 1, probeCount: parameters.probeCount))
        let queryCount = queries.rowCount, chunk = 32
        let chunkCount = (queryCount + chunk - 1) / chunk
        var results = [[Neighbor]](repeating: [], count: queryCount)
        results.withUnsafeMutableBufferPointer { output in
            let output = DisjointWrites(output)
            parallelFor(chunkCount, threads: resolvedThreadCount(parameters.threads)) { chunkNumber in
                let first = chunkNumber * chunk, rows = min(chunk, queryCount - first)
                var scratch = SearchScratch(index: self, rows: rows)
                let probes = rankCentroids(queries, first: first, rows: rows, probeCount: parameters.probeCount, scratch: &scratch)
                fillQueryTables(queries, first: first, rows: rows, scratch: &scratch)
                for row in 0 ..< rows {
                    output.value[first + row] = rangeSearchOne(queries, row: first + row, tableRow: row, probes: probes[row],
                                                               parameters: parameters, scratch: &scratch)
                }
            }
        }
        return results
    }

    /// For L2: a candidate radius that keeps nearly every true neighbour within `radius`: the ADC distance
    /// of a vector at exact distance r is about `(√r ± e)²` with `e` its code's reconstruction
    /// error, so this allows `(√radius + 2·ē)²` with `ē` the root-mean-square error measured on up
    /// to 2,000 stored vectors.
    public func candidateRadius(for radius: Float) -> Float {
        guard configuration.storesVectors, metric == .l2 else { return radius }
        var squaredError: Double = 0, measured = 0
        let perList = max(1, 2000 / max(1, listCount))
        for (listNumber, list) in lists.enumerated() where list.count > 0 {
            let sampled = min(list.count, perList)
            // Codes hold residuals from the list's centroid (see `prepareAdd`).
            let residuals = decodeResiduals(Array(list.codes[0 ..< sampled * codeSize]))
            let centroid = Array(coarseCentroids.row(listNumber))
            for position in 0 ..< sampled {
                let residual = Array(residuals.row(position))
                for j in 0 ..< dimension {
                    let difference = list.vectors[position * dimension + j] - (centroid[j] + residual[j])
                    squaredError += Double(difference * difference)
                }
                measured += 1
            }
        }
        let rms = Float((squaredError / Double(max(1, measured))).squareRoot())
        let reach = radius.squareRoot() + 2 * rms
        return reach * reach
    }

    func rangeSearchOne(_ queries: Matrix, row: Int, tableRow: Int, probes: [Probe],
                        parameters: RangeSearchParameters, scratch: inout SearchScratch) -> [Neighbor] {
        var found: [Neighbor] = []
        let m = codeSize, dimension = self.dimension, ksub = quantizer.centroidsPerSubspace
        queries.withUnsafeBufferPointer { queryBuffer in
            let query = queryBuffer.baseAddress! + row * dimension
            forEachProbedList(tableRow: tableRow, probes: probes, parts: [self], scratch: &scratch) { list, _, table, base in
                list.codes.withUnsafeBufferPointer { codes in
                    list.vectors.withUnsafeBufferPointer { vectors in
                        for position in 0 ..< list.count {
                            var approximate = base
                            let code = codes.baseAddress! + position * m
                            for sub in 0 ..< m { approximate += table[sub * ksub + Int(code[sub])] }
                            guard approximate <= parameters.candidateRadius else { continue }
                            let exact = metric.distance(query, vectors.baseAddress! + position * dimension, dimension)
                            if exact <= parameters.radius { found.append(Neighbor(distance: exact, id: VectorID(list.ids[position]))) }
                        }
                    }
                }
            }
        }
        return found.sorted()
    }
}

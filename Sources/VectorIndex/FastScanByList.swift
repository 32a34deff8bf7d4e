import CSIMDKernels
import VectorMath

/// A batch of queries scanned list by list (FAISS's `search_implem_12` does the same).
///
/// Scanning query by query streams every probed list from memory once per query. Here the
/// (query, list) visits of a chunk are sorted by list, and the queries that visit a list scan it
/// together, up to `FastScan.maxQueriesPerPass` in one pass over its blocks: the list's codes are
/// loaded once for all of them and stay in cache for the next pass. Each query keeps its own
/// candidate pool, whose kept set does not depend on the order the candidates come in, so the
/// answers are exactly those of the query-by-query scan.
extension IVFPQIndex {
    /// Rows of a chunk scanned together: a multiple of the 32 rows centroids are ranked in.
    /// More rows share each list among more queries; 256 keep the chunk's tables and pools
    /// within a few megabytes.
    static let listMajorRows = 256

    /// Pool entries one chunk may hold (20 bytes each): fewer rows a chunk when each keeps many.
    static let listMajorEntryBudget = 1 << 20

    /// Rows a list-by-list chunk takes for this many candidates a query (a multiple of 32), or
    /// nil when even 32 rows would pass the budget (those batches are scanned query by query).
    static func listMajorChunkRows(candidates: Int) -> Int? {
        let rows = min(listMajorRows, listMajorEntryBudget / (2 * candidates)) / 32 * 32
        return rows >= 32 ? rows : nil
    }

    /// Nearest lists of each query scanned in a round of their own before the shared passes: the
    /// bar starts tight, so fewer candidates reach the pools.
    static let nearestListsFirst = 1

    /// One pass: up to `maxQueriesPerPass` visits of one list, their 8-bit tables side by side.
    private struct Pass {
        var rows: [Int] = []
        var bases: [Float] = []
        var scalings: [FastScan.Scaling] = []
    }

    /// Scans each row's probed lists of every part into `pools[row]`: each row's nearest lists
    /// first, then the rest list by list. `queryTables` holds the rows' fast-scan query tables
    /// (`m × 16` floats a row, `fillQueryTables`).
    func scanFastScanByList(probes: [[Probe]], parts: [IVFPQIndex], kernel: FastScan.Kernel,
                            queryTables: UnsafePointer<Float>, pools: CandidatePools) {
        let nearest = IVFPQIndex.nearestListsFirst
        scanRound(probes: probes.map { Array($0.prefix(nearest)) }, parts: parts, kernel: kernel, queryTables: queryTables, pools: pools)
        scanRound(probes: probes.map { Array($0.dropFirst(nearest)) }, parts: parts, kernel: kernel, queryTables: queryTables,
                  pools: pools)
    }

    /// One round: the visits sorted by list, each list scanned for its visitors in passes.
    private func scanRound(probes: [[Probe]], parts: [IVFPQIndex], kernel: FastScan.Kernel,
                           queryTables: UnsafePointer<Float>, pools: CandidatePools) {
        let m = codeSize, tableSize = m * 16, tableBytes = FastScan.packedBlockBytes(m: m)
        // Visit keys: list number (< 2^24) above the visit's index (rows ≤ 256 × nprobe < 2^24).
        var keys: [UInt64] = []
        var visitRows: [Int32] = [], visitBases: [Float] = []
        for (row, rowProbes) in probes.enumerated() {
            for probe in rowProbes {
                keys.append(UInt64(probe.list.rawValue) << 32 | UInt64(visitRows.count))
                visitRows.append(Int32(row))
                visitBases.append(probe.centroidDistance)
            }
        }
        // Rows ≤ 256 and at most nlist (< 2^24) probes a row keep the index below 2^32.
        precondition(visitRows.count < 1 << 32, "a list-by-list chunk holds fewer than 2^32 visits")
        keys.sort()
        var tables = [UInt8](repeating: 0, count: FastScan.maxQueriesPerPass * tableBytes)
        var pass = Pass()
        precomputedTerms.withUnsafeBufferPointer { terms in
            tables.withUnsafeMutableBufferPointer { tables in
                var start = 0
                while start < keys.count {
                    let listNumber = Int(keys[start] >> 32)
                    let firstPass = start == 0 || Int(keys[start - 1] >> 32) != listNumber
                    var end = start + 1
                    while end < keys.count, end - start < FastScan.maxQueriesPerPass, Int(keys[end] >> 32) == listNumber { end += 1 }
                    var filled = false
                    for (partNumber, part) in parts.enumerated() {
                        let list = part.lists[listNumber]
                        if list.count == 0 { continue }
                        if !filled {
                            pass.rows.removeAll(keepingCapacity: true)
                            pass.bases.removeAll(keepingCapacity: true)
                            pass.scalings.removeAll(keepingCapacity: true)
                            for (slot, key) in keys[start ..< end].enumerated() {
                                let visit = Int(key & 0xFFFF_FFFF), row = Int(visitRows[visit])
                                pass.rows.append(row)
                                pass.bases.append(visitBases[visit])
                                pass.scalings.append(FastScan.Scaling.quantize(
                                    terms: metric == .l2 ? terms.baseAddress! + listNumber * tableSize : nil,
                                    query: queryTables + row * tableSize, m: m, into: tables.baseAddress! + slot * tableBytes))
                            }
                            filled = true
                        }
                        let place = UInt64(partNumber) << 56 | UInt64(listNumber) << 32
                        if kernel == .scalarReference || list.fastScanCount != list.count {
                            for slot in pass.rows.indices {
                                scanQuantizedReference(list, base: pass.bases[slot], place: place,
                                                       entries: tables.baseAddress! + slot * tableBytes,
                                                       scaling: pass.scalings[slot], pools: pools, row: pass.rows[slot])
                            }
                        } else {
                            scanPass(list, pass: pass, place: place, firstPass: firstPass, kernel: kernel,
                                     tables: UnsafePointer(tables.baseAddress!),
                                     pools: pools)
                        }
                    }
                    start = end
                }
            }
        }
    }

    /// One pass over a list's blocks for the pass's queries: each block is scanned for all of
    /// them at once, then each query's passing lanes are offered to its pool, as `fastScanList`
    /// offers them.
    @inline(__always)
    private func scanPass(_ list: InvertedList, pass: Pass, place: UInt64, firstPass: Bool, kernel: FastScan.Kernel,
                          tables: UnsafePointer<UInt8>, pools: CandidatePools) {
        let queries = pass.rows.count, maxQueries = FastScan.maxQueriesPerPass
        let pairs = (codeSize + 1) / 2, blockBytes = FastScan.packedBlockBytes(m: codeSize)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: maxQueries) { worst in
        withUnsafeTemporaryAllocation(of: Int.self, capacity: maxQueries) { bars in
        withUnsafeTemporaryAllocation(of: UInt16.self, capacity: maxQueries) { thresholds in
        withUnsafeTemporaryAllocation(of: UInt16.self, capacity: maxQueries * FastScan.blockSize) { sums in
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: maxQueries) { masks in
            var open = 0
            for slot in 0 ..< queries {
                worst[slot] = pools.worstDistance(pass.rows[slot])
                bars[slot] = pass.scalings[slot].threshold(worst: worst[slot], base: pass.bases[slot])
                if bars[slot] >= 0 { open += 1 }
            }
            guard open > 0 else { return }
            list.ids.withUnsafeBufferPointer { ids in
                // Passing lanes read ids here and there: fetched ahead, with the codes, they do not
                // stall (once a list: the next passes find them in cache).
                if firstPass { sightline_prefetch(ids.baseAddress, ids.count * MemoryLayout<UInt64>.stride) }
                list.fastScanCodes.withUnsafeBufferPointer { packed in
                    let blocks = (list.count + FastScan.blockSize - 1) / FastScan.blockSize
                    for block in 0 ..< blocks {
                        for slot in 0 ..< queries { thresholds[slot] = UInt16(max(0, bars[slot])) }
                        kernel.scanBlock(packed.baseAddress! + block * blockBytes, tables, tableStride: blockBytes,
                                         queries: queries, pairs: pairs, thresholds: thresholds.baseAddress!,
                                         sums: sums.baseAddress!, masks: masks.baseAddress!)
                        let first = block * FastScan.blockSize
                        let tail: UInt32 = list.count - first < FastScan.blockSize ? (1 << UInt32(list.count - first)) &- 1 : ~0
                        for slot in 0 ..< queries where bars[slot] >= 0 {
                            var mask = masks[slot] & tail
                            let row = pass.rows[slot], base = pass.bases[slot], scaling = pass.scalings[slot]
                            while mask != 0 {
                                let lane = Int(mask.trailingZeroBitCount)
                                mask &= mask &- 1
                                let sum = Int(sums[slot * FastScan.blockSize + (lane & 1) * 16 + lane >> 1])
                                let distance = scaling.distance(sum: sum, base: base)
                                guard distance <= worst[slot] else { continue }
                                pools.insert(row: row, distance: distance, id: ids[first + lane], payload: place | UInt64(first + lane))
                                guard pools.worstDistance(row) != worst[slot] else { continue }
                                worst[slot] = pools.worstDistance(row)
                                bars[slot] = scaling.threshold(worst: worst[slot], base: base)
                                if bars[slot] < 0 {
                                    open -= 1
                                    break
                                }
                            }
                        }
                        if open == 0 { return }
                    }
                }
            }
        }
        }
        }
        }
        }
    }
}

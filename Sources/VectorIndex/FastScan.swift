import CSIMDKernels
import Quantization
import VectorMath

/// 4-bit fast-scan (André, Kermarrec & Le Scouarnec 2015; `IndexIVFPQFastScan` in FAISS).
///
/// With 16 sub-centroids a sub-quantizer's lookup table is 16 entries: quantized to 8 bits it fits
/// one 128-bit register, and one shuffle instruction looks up 32 codes at once. Each list keeps
/// its codes a second time, packed in blocks of 32 vectors (`packedBlockBytes` each): for each
/// pair of sub-quantizers, 32 bytes, byte `v` holding vector `v`'s two 4-bit codes. Sums run in
/// 16-bit lanes; the scale of the 8-bit tables keeps every sum below 2^16, so they are exact and
/// the SIMD kernels agree with the scalar reference to the last bit.
///
/// The distance reported for a code is `bias + sum / scale`: an approximation of the ADC
/// distance (the tables' rounding adds up to `m / 2` steps of `1 / scale`), which refine replaces
/// with the exact one.
public enum FastScan {
    /// Vectors a packed block holds (one 256-bit register of codes).
    public static let blockSize = 32

    /// Queries one pass over a block serves (the kernels keep their sums in registers).
    static let maxQueriesPerPass = 4

    /// Packed bytes one block takes for `m` sub-quantizers (`m` rounded up to a pair).
    public static func packedBlockBytes(m: Int) -> Int { (m + 1) / 2 * blockSize }

    /// Which kernel scans a block, chosen once, at start, from the CPU's features: AVX-512BW
    /// (two pairs of sub-quantizers a register), else AVX2, else the portable C loop.
    /// `SIGHTLINE_SIMD=avx2` caps the choice at AVX2, `SIGHTLINE_SIMD=portable` at the portable
    /// loop. `scalarReference` reads the unpacked codes one vector at a time: the definition the
    /// others are tested against. Every kernel gives the same sums and masks.
    public enum Kernel: Sendable, CaseIterable {
        case avx512, avx2, portable, scalarReference

        public static let selected: Kernel =
            sightline_avx512_kernels_enabled() != 0 ? .avx512 : wideKernelsEnabled ? .avx2 : .portable

        /// Whether this CPU runs the kernel.
        public var isAvailable: Bool {
            switch self {
            case .avx512: sightline_cpu_has_avx512bw() != 0 && sightline_cpu_has_avx2() != 0
            case .avx2: sightline_cpu_has_avx2() != 0
            case .portable, .scalarReference: true
            }
        }

        @inline(__always)
        func scanBlock(_ codes: UnsafePointer<UInt8>, _ tables: UnsafePointer<UInt8>, pairs: Int, threshold: UInt16,
                       sums: UnsafeMutablePointer<UInt16>) -> UInt32 {
            switch self {
            case .avx512: UInt32(sightline_fastscan_block_avx512(codes, tables, pairs, threshold, sums))
            case .avx2: UInt32(sightline_fastscan_block_avx2(codes, tables, pairs, threshold, sums))
            case .portable, .scalarReference: UInt32(sightline_fastscan_block_portable(codes, tables, pairs, threshold, sums))
            }
        }

        /// One block for up to `maxQueriesPerPass` queries, each table `tableStride` bytes apart.
        @inline(__always)
        func scanBlock(_ codes: UnsafePointer<UInt8>, _ tables: UnsafePointer<UInt8>, tableStride: Int, queries: Int, pairs: Int,
                       thresholds: UnsafePointer<UInt16>, sums: UnsafeMutablePointer<UInt16>, masks: UnsafeMutablePointer<UInt32>) {
            switch self {
            case .avx512:
                sightline_fastscan_block_queries_avx512(codes, tables, tableStride, queries, pairs, thresholds, sums, masks)
            case .avx2:
                sightline_fastscan_block_queries_avx2(codes, tables, tableStride, queries, pairs, thresholds, sums, masks)
            case .portable, .scalarReference:
                sightline_fastscan_block_queries_portable(codes, tables, tableStride, queries, pairs, thresholds, sums, masks)
            }
        }
    }

    /// How a quantized table's sums map back to distances: `distance = bias + sum / scale`.
    struct Scaling {
        var scale: Float = 1
        var inverseScale: Float = 1
        var offset: Float = 0

        /// Quantizes `terms + query` (each `m × 16` floats; `terms` nil: the query's table alone)
        /// into `entries` (`packedBlockBytes(m:)` bytes); see `sightline_quantize_fastscan_sum`.
        static func quantize(terms: UnsafePointer<Float>?, query: UnsafePointer<Float>, m: Int,
                             into entries: UnsafeMutablePointer<UInt8>) -> Scaling {
            var scale: Float = 1, offset: Float = 0
            if wideKernelsEnabled {
                sightline_quantize_fastscan_sum_avx2(terms, query, m, entries, &scale, &offset)
            } else {
                sightline_quantize_fastscan_sum(terms, query, m, entries, &scale, &offset)
            }
            return Scaling(scale: scale, inverseScale: 1 / scale, offset: offset)
        }

        /// The distance a sum stands for (the same expression in every scan, so they agree).
        @inline(__always)
        func distance(sum: Int, base: Float) -> Float { (base + offset) + Float(sum) * inverseScale }

        /// The largest sum whose distance is at most `worst`, or −1 when none is: the distance
        /// grows with the sum, so sums above it can be skipped without changing any result.
        /// Estimated from the scale, then moved to the exact boundary (a step or two at most).
        func threshold(worst: Float, base: Float) -> Int {
            if worst == .infinity { return 65_535 }
            let estimate = (worst - (base + offset)) * scale
            var sum = estimate >= 65_535 ? 65_535 : estimate >= 0 ? Int(estimate) : 0
            while sum < 65_535, distance(sum: sum + 1, base: base) <= worst { sum += 1 }
            while sum >= 0, distance(sum: sum, base: base) > worst { sum -= 1 }
            return sum
        }
    }

    /// One list's ADC table quantized to 8 bits: entry `(t − min_sub) · scale`, rounded, so that
    /// `distance ≈ bias + Σ entries / scale` with `bias = base + Σ min_sub`.
    struct QuantizedTable {
        /// `pairs × 32` bytes: sub-quantizer `s` at `16 s`, a zero table padding an odd `m`.
        var entries: [UInt8]
        var scaling = Scaling()

        var inverseScale: Float { scaling.inverseScale }

        init(m: Int) {
            entries = [UInt8](repeating: 0, count: FastScan.packedBlockBytes(m: m))
        }

        mutating func fill(terms: UnsafePointer<Float>?, query: UnsafePointer<Float>, m: Int) {
            scaling = entries.withUnsafeMutableBufferPointer {
                Scaling.quantize(terms: terms, query: query, m: m, into: $0.baseAddress!)
            }
        }

        @inline(__always)
        func distance(sum: Int, base: Float) -> Float { scaling.distance(sum: sum, base: base) }

        func threshold(worst: Float, base: Float) -> Int { scaling.threshold(worst: worst, base: base) }
    }
}

extension InvertedList {
    /// Packs the codes appended since the last call into the fast-scan blocks; repacks from the
    /// start when entries were removed. The packed copy is `m / 2` bytes a vector.
    mutating func syncFastScan(m: Int) {
        if fastScanCount > count {
            fastScanCodes = []
            fastScanCount = 0
        }
        guard fastScanCount < count else { return }
        let blockBytes = FastScan.packedBlockBytes(m: m)
        let blocks = (count + FastScan.blockSize - 1) / FastScan.blockSize
        if fastScanCodes.count < blocks * blockBytes {
            fastScanCodes.append(contentsOf: repeatElement(0, count: blocks * blockBytes - fastScanCodes.count))
        }
        let start = fastScanCount, end = count
        codes.withUnsafeBufferPointer { codes in
            fastScanCodes.withUnsafeMutableBufferPointer { packed in
                for position in start ..< end {
                    let block = position / FastScan.blockSize, lane = position % FastScan.blockSize
                    let code = codes.baseAddress! + position * m
                    for sub in 0 ..< m {
                        let byte = block * blockBytes + (sub / 2) * FastScan.blockSize + lane
                        packed[byte] |= sub % 2 == 0 ? code[sub] & 0x0F : (code[sub] & 0x0F) << 4
                    }
                }
            }
        }
        fastScanCount = count
    }
}

extension IVFPQIndex {
    /// Brings every list's packed fast-scan copy up to date (4-bit indexes only; cheap when
    /// nothing changed). Called by every operation that changes the lists.
    mutating func refreshFastScanLayout() {
        guard configuration.usesFastScan else { return }
        let m = codeSize
        for number in lists.indices where lists[number].fastScanCount != lists[number].count {
            lists[number].syncFastScan(m: m)
        }
    }

    /// The query tables of 4-bit codes, 16 lanes at a time from the codebooks by column (many
    /// tiny matrix products would cost more in set-up than in arithmetic).
    func fillFastScanQueryTables(_ queries: Matrix, first: Int, rows: Int, tableRow: Int, scratch: inout SearchScratch) {
        let m = codeSize, dsub = quantizer.subDimension, dimension = self.dimension
        let alpha: Float = metric == .l2 ? -2 : -1
        queries.withUnsafeBufferPointer { queryBuffer in
            codebooksByColumn.withUnsafeBytes { columns in
                scratch.queryTables.withUnsafeMutableBytes { tables in
                    for row in 0 ..< rows {
                        let query = queryBuffer.baseAddress! + (first + row) * dimension
                        for sub in 0 ..< m {
                            var sum = SIMD16<Float>(repeating: 0)
                            for j in 0 ..< dsub {
                                let column = columns.loadUnaligned(fromByteOffset: (sub * dsub + j) * 64, as: SIMD16<Float>.self)
                                sum += query[sub * dsub + j] * column
                            }
                            tables.storeBytes(of: alpha * sum, toByteOffset: (((tableRow + row) * m) + sub) * 64, as: SIMD16<Float>.self)
                        }
                    }
                }
            }
        }
    }

    /// Calls `body(list, place, table, base)` for each non-empty probed list of every part, with
    /// the list's quantized table (built once for all parts, straight from the list's terms and
    /// the query's table) and the query-to-centroid term, in probe order.
    @inline(__always)
    func forEachProbedListQuantized(tableRow: Int, probes: [Probe], parts: [IVFPQIndex], scratch: inout SearchScratch,
                                    _ body: (InvertedList, UInt64, FastScan.QuantizedTable, Float) -> Void) {
        let m = codeSize, tableSize = codeSize * 16
        var quantized = scratch.quantizedTable ?? FastScan.QuantizedTable(m: m)
        scratch.queryTables.withUnsafeBufferPointer { queryTables in
            precomputedTerms.withUnsafeBufferPointer { terms in
                let queryTable = queryTables.baseAddress! + tableRow * tableSize
                for probe in probes {
                    let listNumber = probe.list.rawValue
                    var filled = false
                    for (partNumber, part) in parts.enumerated() {
                        let list = part.lists[listNumber]
                        if list.count == 0 { continue }
                        if !filled {
                            quantized.fill(terms: metric == .l2 ? terms.baseAddress! + listNumber * tableSize : nil,
                                           query: queryTable, m: m)
                            filled = true
                        }
                        body(list, UInt64(partNumber) << 56 | UInt64(listNumber) << 32, quantized, probe.centroidDistance)
                    }
                }
            }
        }
        scratch.quantizedTable = quantized
    }

    /// Scans one list with the fast-scan kernel: every code whose approximate distance is at
    /// most the heap's bar is offered to it, in position order.
    @inline(__always)
    func fastScanList(_ list: InvertedList, base: Float, place: UInt64, kernel: FastScan.Kernel,
                      quantized: FastScan.QuantizedTable, heap: inout CandidatePool) {
        let m = codeSize
        // A list packed out of step (never expected) is scanned by the reference: same answers.
        guard kernel != .scalarReference, list.fastScanCount == list.count else {
            return scanQuantizedReference(list, base: base, place: place, quantized: quantized, heap: &heap)
        }
        let pairs = (m + 1) / 2, blockBytes = FastScan.packedBlockBytes(m: m)
        var sums = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        var worst = heap.worstDistance
        var threshold = quantized.threshold(worst: worst, base: base)
        guard threshold >= 0 else { return }
        withUnsafeMutableBytes(of: &sums) { sumBytes in
            let sums = sumBytes.baseAddress!.assumingMemoryBound(to: UInt16.self)
            list.ids.withUnsafeBufferPointer { ids in
                list.fastScanCodes.withUnsafeBufferPointer { packed in
                    quantized.entries.withUnsafeBufferPointer { entries in
                        let blocks = (list.count + FastScan.blockSize - 1) / FastScan.blockSize
                        for block in 0 ..< blocks {
                            var mask = kernel.scanBlock(packed.baseAddress! + block * blockBytes, entries.baseAddress!,
                                                        pairs: pairs, threshold: UInt16(threshold), sums: sums)
                            let first = block * FastScan.blockSize
                            if list.count - first < FastScan.blockSize { mask &= (1 << UInt32(list.count - first)) &- 1 }
                            while mask != 0 {
                                let lane = Int(mask.trailingZeroBitCount)
                                mask &= mask &- 1
                                let sum = Int(sums[(lane & 1) * 16 + lane >> 1])
                                let distance = quantized.distance(sum: sum, base: base)
                                guard distance <= worst else { continue }
                                heap.insert(distance: distance, id: ids[first + lane], payload: place | UInt64(first + lane))
                                guard heap.worstDistance != worst else { continue }
                                worst = heap.worstDistance
                                threshold = quantized.threshold(worst: worst, base: base)
                                if threshold < 0 { return }
                                // Lanes above the new bar are dropped here, as the reference drops them.
                            }
                        }
                    }
                }
            }
        }
    }

    /// The scalar reference of the fast scan: the same quantized table and the same sums, read
    /// from the unpacked codes one vector at a time. Tests hold the kernels to it.
    func scanQuantizedReference(_ list: InvertedList, base: Float, place: UInt64, quantized: FastScan.QuantizedTable,
                                heap: inout CandidatePool) {
        quantized.entries.withUnsafeBufferPointer { entries in
            scanQuantizedReference(list, base: base, place: place, entries: entries.baseAddress!, scaling: quantized.scaling,
                                   heap: &heap)
        }
    }

    func scanQuantizedReference(_ list: InvertedList, base: Float, place: UInt64, entries: UnsafePointer<UInt8>,
                                scaling: FastScan.Scaling, heap: inout CandidatePool) {
        scanQuantizedReference(list, base: base, entries: entries, scaling: scaling, worst: { heap.worstDistance }) { distance, position in
            heap.insert(distance: distance, id: list.ids[position], payload: place | UInt64(position))
        }
    }

    func scanQuantizedReference(_ list: InvertedList, base: Float, place: UInt64, entries: UnsafePointer<UInt8>,
                                scaling: FastScan.Scaling, pools: CandidatePools, row: Int) {
        scanQuantizedReference(list, base: base, entries: entries, scaling: scaling,
                               worst: { pools.worstDistance(row) }) { distance, position in
            pools.insert(row: row, distance: distance, id: list.ids[position], payload: place | UInt64(position))
        }
    }

    private func scanQuantizedReference(_ list: InvertedList, base: Float, entries: UnsafePointer<UInt8>, scaling: FastScan.Scaling,
                                        worst bar: () -> Float, offer: (Float, Int) -> Void) {
        let m = codeSize
        var worst = bar()
        list.codes.withUnsafeBufferPointer { codes in
            for position in 0 ..< list.count {
                var sum = 0
                for sub in 0 ..< m { sum += Int(entries[sub * 16 + Int(codes[position * m + sub])]) }
                let distance = scaling.distance(sum: sum, base: base)
                if distance <= worst {
                    offer(distance, position)
                    worst = bar()
                }
            }
        }
    }
}

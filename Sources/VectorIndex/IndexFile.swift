import Quantization
import VectorMath

/// The versioned binary index file.
///
/// Layout (little-endian):
/// ```
/// "SLIX"  magic                      4 bytes
/// version UInt32 (= 2; version 1 files, always 8-bit codes, still load)
/// header  metric UInt8, flags UInt8 (bit 0: stores vectors, bit 1: 8-bit refine codes, bit 2: OPQ,
///         bit 3: lists ranked through an HNSW graph over the centroids, rebuilt on load),
///         [version 2: bits per code UInt8],
///         dimension UInt32, nlist UInt32, m UInt32, vector count UInt64
/// header CRC-32                      of the bytes from the magic to here
/// section "CENT"  nlist × d Float32 coarse centroids, then its CRC-32
/// section "PQCB"  d × 2^bits Float32 codebooks (m, 2^bits, dsub), then its CRC-32
/// [section "SQ8R" d Float32 minima, d Float32 steps (bit 1 only), then its CRC-32]
/// [section "OPQR" d × d Float32 rotation, row-major (bit 2 only), then its CRC-32]
/// section "LIST"  per list: count UInt64, ids UInt64×count, codes m×count, [vectors d×count Float32],
///                 [8-bit refine codes d×count];
///                 then one CRC-32 over the whole section
/// ```
/// Every length is checked against the file size before it is read, so a truncated or corrupt
/// file is reported, never trusted.
public enum IndexFile {
    public static let magic: [UInt8] = Array("SLIX".utf8)
    public static let version: UInt32 = 2
    /// The first version: no bits field, 8-bit codes.
    static let firstVersion: UInt32 = 1
    /// Largest precomputed L2 table a decoded index may need (`nlist · m · 256` floats, built in
    /// memory, not stored): 2 GiB, e.g. nlist 65,536 with m = 32. A small file can describe a
    /// huge table, so the size is checked before anything is built.
    public static let defaultMaxTableBytes = 2 << 30

    /// `fileVersion` 1 (8-bit indexes only) exists so tests can write what older builds wrote.
    public static func encode(_ index: IVFPQIndex, fileVersion: UInt32 = version) -> [UInt8] {
        precondition(fileVersion == version || (fileVersion == firstVersion && index.configuration.bitsPerCode == 8),
                     "version 1 files hold 8-bit codes only")
        var writer = ByteWriter()
        writer.write(magic)
        writer.write(fileVersion)
        let configuration = index.configuration
        writer.write(UInt8(configuration.metric == .l2 ? 0 : 1))
        writer.write(UInt8(configuration.storesVectors ? 1 : 0) | UInt8(configuration.storesScalarCodes ? 2 : 0)
                     | UInt8(configuration.usesOPQ ? 4 : 0) | UInt8(configuration.coarseGraph ? 8 : 0))
        if fileVersion >= 2 { writer.write(UInt8(configuration.bitsPerCode)) }
        writer.write(UInt32(configuration.dimension))
        writer.write(UInt32(configuration.listCount))
        writer.write(UInt32(configuration.subquantizerCount))
        writer.write(UInt64(index.count))
        writer.write(CRC32.checksum(writer.bytes))

        writer.appendSection("CENT") { $0.write(index.coarseCentroids.values) }
        writer.appendSection("PQCB") { $0.write(index.quantizer.centroids) }
        if let scalar = index.scalarQuantizer {
            writer.appendSection("SQ8R") { section in
                section.write(scalar.minimum)
                section.write(scalar.step)
            }
        }
        if let rotation = index.rotation { writer.appendSection("OPQR") { $0.write(rotation.values) } }
        writer.appendSection("LIST") { section in
            for list in index.lists {
                section.write(UInt64(list.count))
                section.write(list.ids)
                section.write(list.codes)
                if configuration.storesVectors { section.write(list.vectors) }
                if configuration.storesScalarCodes { section.write(list.scalarCodes) }
            }
        }
        return writer.bytes
    }


    /// Reads an index file; `maxTableBytes` bounds the memory its precomputed tables may take.
    public static func decode(_ bytes: [UInt8], maxTableBytes: Int = defaultMaxTableBytes) throws(VectorIndexError) -> IVFPQIndex {
        var reader = ByteReader(bytes)
        guard bytes.count >= 4 else { throw .truncatedFile(needed: 4, available: bytes.count) }
        guard try reader.readBytes(4) == magic else {
            throw .corruptFile("it does not start with \"SLIX\": this is not a Sightline index file")
        }
        let fileVersion = try reader.read(UInt32.self)
        guard fileVersion == version || fileVersion == firstVersion else {
            throw .unsupportedVersion(found: fileVersion, supported: version)
        }
        let metricCode = try reader.read(UInt8.self)
        let flags = try reader.read(UInt8.self)
        let bits = fileVersion >= 2 ? Int(try reader.read(UInt8.self)) : 8
        let dimension = Int(try reader.read(UInt32.self))
        let nlist = Int(try reader.read(UInt32.self))
        let m = Int(try reader.read(UInt32.self))
        let vectorCount = try reader.read(UInt64.self)
        let headerEnd = reader.offset
        let headerChecksum = try reader.read(UInt32.self)
        guard headerChecksum == bytes.withUnsafeBytes({ CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[0 ..< headerEnd])) }) else {
            throw .corruptFile("header checksum mismatch")
        }
        guard metricCode <= 1 else { throw .corruptFile("unknown metric code \(metricCode)") }
        guard ProductQuantizer.supportedBits.contains(bits) else { throw .corruptFile("unsupported code width \(bits) bits") }
        guard dimension >= 1, dimension <= 1 << 16, nlist >= 1, nlist <= 1 << 24, m >= 1, m <= dimension, dimension % m == 0 else {
            throw .corruptFile("implausible shape d=\(dimension) nlist=\(nlist) m=\(m)")
        }
        let configuration = IVFPQConfiguration(
            dimension: dimension, listCount: nlist, subquantizerCount: m,
            metric: metricCode == 0 ? .l2 : .innerProduct, storesVectors: flags & 1 == 1, bitsPerCode: bits,
            storesScalarCodes: flags & 2 == 2, usesOPQ: flags & 4 == 4, coarseGraph: flags & 8 == 8)
        guard flags & ~15 == 0 else { throw .corruptFile("unknown flags \(flags)") }
        // nlist ≤ 2^24 and m ≤ 2^16: the product cannot overflow.
        let tableBytes = nlist * m * configuration.centroidsPerSubspace * 4
        guard configuration.metric != .l2 || tableBytes <= maxTableBytes else {
            throw .corruptFile("nlist \(nlist) × m \(m) needs a \(tableBytes >> 20) MiB precomputed table, "
                + "above the \(maxTableBytes >> 20) MiB limit")
        }
        let bytesPerVector = 8 + m + (configuration.storesVectors ? 4 * dimension : 0)
            + (configuration.storesScalarCodes ? dimension : 0)

        let centroidValues = try reader.readSection("CENT") { section throws(VectorIndexError) in
            try section.readFloats(nlist * dimension)
        }
        let codebookValues = try reader.readSection("PQCB") { section throws(VectorIndexError) in
            try section.readFloats(dimension * configuration.centroidsPerSubspace)
        }
        let scalarValues = configuration.storesScalarCodes
            ? try reader.readSection("SQ8R") { section throws(VectorIndexError) in try section.readFloats(2 * dimension) } : []
        // d ≤ 2^16: d × d floats are bounded by the section's own length check.
        let rotationValues = configuration.usesOPQ
            ? try reader.readSection("OPQR") { section throws(VectorIndexError) in try section.readFloats(dimension * dimension) } : []
        let lists = try reader.readSection("LIST") { section throws(VectorIndexError) in
            var lists: [InvertedList] = []
            lists.reserveCapacity(nlist)
            for _ in 0 ..< nlist {
                let count = try section.read(UInt64.self)
                guard count <= vectorCount else { throw .corruptFile("a list claims \(count) of \(vectorCount) vectors") }
                // Bounded by the bytes left before it is converted or multiplied.
                guard count <= UInt64(section.remaining / bytesPerVector) else {
                    throw .truncatedFile(needed: section.offset + bytesPerVector, available: bytes.count)
                }
                let n = Int(count)
                let ids = try section.readUInt64s(n)
                let codes = try section.readBytes(n * m)
                let vectors = configuration.storesVectors ? try section.readFloats(n * dimension) : []
                let scalarCodes = configuration.storesScalarCodes ? try section.readBytes(n * dimension) : []
                lists.append(InvertedList(ids: ids, codes: codes, vectors: vectors, scalarCodes: scalarCodes))
            }
            return lists
        }
        guard reader.remaining == 0 else { throw .corruptFile("\(reader.remaining) unexpected bytes after the last section") }
        let total = lists.reduce(0) { $0 + $1.count }
        guard total == vectorCount else { throw .corruptFile("lists hold \(total) vectors, header says \(vectorCount)") }
        for value in centroidValues + codebookValues + rotationValues where !value.isFinite {
            throw .corruptFile("a centroid holds NaN or infinity")
        }
        do {
            let centroids = try Matrix(dimension: dimension, values: centroidValues)
            let quantizer = try ProductQuantizer(dimension: dimension, subquantizerCount: m, bitsPerCode: bits, centroids: codebookValues)
            let scalar = configuration.storesScalarCodes
                ? try ScalarQuantizer(minimum: Array(scalarValues[0 ..< dimension]), step: Array(scalarValues[dimension...])) : nil
            let index = try IVFPQIndex(configuration: configuration, coarseCentroids: centroids, quantizer: quantizer,
                                       scalarQuantizer: scalar,
                                       rotation: configuration.usesOPQ ? try Matrix(dimension: dimension, values: rotationValues) : nil,
                                       lists: lists)
            try index.checkInvariants()
            return index
        } catch let error as VectorIndexError {
            throw error
        } catch {
            throw .corruptFile("\(error)")
        }
    }
}

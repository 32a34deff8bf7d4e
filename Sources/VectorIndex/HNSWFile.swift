import VectorMath

/// The versioned HNSW file: the graph as built, so a search after loading answers exactly as
/// before saving.
///
/// Layout (little-endian):
/// ```
/// "SLHN"  magic, version UInt32 (= 1)
/// header  metric UInt8, dimension UInt32, M UInt32, efConstruction UInt32, seed UInt64,
///         node count UInt64, entry point UInt64 (node), top level UInt32, then its CRC-32
/// section "VECS"  n × d Float32;                 "IDS_" n UInt64
/// section "LEVL"  n UInt8 (each ≤ 16);           "DELE" n UInt8 (1: deleted)
/// section "LNK0"  per node: count UInt16, 2M UInt32 slots
/// section "LNKU"  per node, per layer 1…level: count UInt16 (≤ M), then the links UInt32
/// ```
/// each section followed by its CRC-32. Every count is bounded by the bytes left before it is
/// multiplied or allocated, and every link must name a node of the file.
/// Adding to a loaded graph draws levels from `seed` advanced by the node count.
public enum HNSWFile {
    public static let magic: [UInt8] = Array("SLHN".utf8)
    public static let version: UInt32 = 1

    public static func encode(_ index: HNSWIndex) -> [UInt8] {
        var writer = ByteWriter()
        writer.write(magic)
        writer.write(version)
        writer.write(UInt8(index.metric == .l2 ? 0 : 1))
        writer.write(UInt32(index.dimension))
        writer.write(UInt32(index.neighborsPerNode))
        writer.write(UInt32(index.efConstruction))
        writer.write(index.seed)
        writer.write(UInt64(index.nodeCount))
        writer.write(UInt64(max(0, index.entryPoint)))
        writer.write(UInt32(index.topLevel))
        writer.write(CRC32.checksum(writer.bytes))
        writer.appendSection("VECS") { $0.write(index.vectors) }
        writer.appendSection("IDS_") { $0.write(index.ids) }
        writer.appendSection("LEVL") { $0.write(index.levels) }
        writer.appendSection("DELE") { $0.write(index.deleted.map { $0 ? UInt8(1) : UInt8(0) }) }
        writer.appendSection("LNK0") { out in
            for node in 0 ..< index.nodeCount {
                out.write(index.layer0Counts[node])
                for slot in 0 ..< index.layer0Capacity { out.write(index.layer0[node * index.layer0Capacity + slot]) }
            }
        }
        writer.appendSection("LNKU") { out in
            for layers in index.upper {
                for links in layers {
                    out.write(UInt16(links.count))
                    for link in links { out.write(link) }
                }
            }
        }
        return writer.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(VectorIndexError) -> HNSWIndex {
        var reader = ByteReader(bytes)
        guard bytes.count >= 4 else { throw .truncatedFile(needed: 4, available: bytes.count) }
        guard try reader.readBytes(4) == magic else { throw .corruptFile("it does not start with \"SLHN\": not a Sightline HNSW file") }
        let fileVersion = try reader.read(UInt32.self)
        guard fileVersion == version else { throw .unsupportedVersion(found: fileVersion, supported: version) }
        let metricCode = try reader.read(UInt8.self)
        let dimension = Int(try reader.read(UInt32.self))
        let neighbors = Int(try reader.read(UInt32.self))
        let efConstruction = Int(try reader.read(UInt32.self))
        let seed = try reader.read(UInt64.self)
        let nodeCount = try reader.read(UInt64.self)
        let entry = try reader.read(UInt64.self)
        let topLevel = Int(try reader.read(UInt32.self))
        let headerEnd = reader.offset
        guard try reader.read(UInt32.self)
              == bytes.withUnsafeBytes({ CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[0 ..< headerEnd])) })
        else { throw .corruptFile("header checksum mismatch") }
        guard metricCode <= 1, (1 ... 1 << 16).contains(dimension), topLevel <= HNSWIndex.maxLevel else {
            throw .corruptFile("implausible header: metric \(metricCode), d = \(dimension), top level \(topLevel)")
        }
        var index = try HNSWIndex(dimension: dimension, metric: metricCode == 0 ? .l2 : .innerProduct, neighborsPerNode: neighbors,
                                  efConstruction: efConstruction, seed: seed)
        // Each node takes at least its vector, id, level, flag and layer-0 slots: bound n first.
        let perNode = 4 * dimension + 8 + 1 + 1 + 2 + 4 * index.layer0Capacity
        guard nodeCount <= UInt64(reader.remaining / perNode) else { throw .truncatedFile(needed: Int.max, available: bytes.count) }
        let n = Int(nodeCount)
        guard n == 0 || entry < nodeCount else { throw .corruptFile("entry point \(entry) is not one of the \(n) nodes") }
        index.vectors = try reader.readSection("VECS") { section throws(VectorIndexError) in try section.readFloats(n * dimension) }
        guard index.vectors.allSatisfy(\.isFinite) else { throw .corruptFile("a vector holds NaN or infinity") }
        index.ids = try reader.readSection("IDS_") { section throws(VectorIndexError) in try section.readUInt64s(n) }
        index.levels = try reader.readSection("LEVL") { section throws(VectorIndexError) in try section.readBytes(n) }
        guard index.levels.allSatisfy({ Int($0) <= topLevel }) else { throw .corruptFile("a node lies above the top level") }
        let flags = try reader.readSection("DELE") { section throws(VectorIndexError) in try section.readBytes(n) }
        guard flags.allSatisfy({ $0 <= 1 }) else { throw .corruptFile("a deletion flag is neither 0 nor 1") }
        index.deleted = flags.map { $0 == 1 }
        index.deletedCount = flags.reduce(0) { $0 + Int($1) }
        let capacity = index.layer0Capacity
        (index.layer0Counts, index.layer0) = try reader.readSection("LNK0") { section throws(VectorIndexError) in
            var counts: [UInt16] = [], slots: [UInt32] = []
            counts.reserveCapacity(n)
            slots.reserveCapacity(n * capacity)
            for _ in 0 ..< n {
                let count = try section.read(UInt16.self)
                guard Int(count) <= capacity else { throw .corruptFile("a node has \(count) links on layer 0, above 2M = \(capacity)") }
                counts.append(count)
                for _ in 0 ..< capacity { slots.append(try section.read(UInt32.self)) }
            }
            return (counts, slots)
        }
        for node in 0 ..< n
        where index.layer0[node * capacity ..< node * capacity + Int(index.layer0Counts[node])].contains(where: { Int($0) >= n }) {
            throw .corruptFile("node \(node) links to a node that does not exist")
        }
        index.upper = try reader.readSection("LNKU") { section throws(VectorIndexError) in
            var upper: [[[UInt32]]] = []
            upper.reserveCapacity(n)
            for node in 0 ..< n {
                var layers: [[UInt32]] = []
                for _ in 0 ..< Int(index.levels[node]) {
                    let count = Int(try section.read(UInt16.self))
                    guard count <= neighbors else { throw .corruptFile("node \(node) has \(count) links above layer 0, above M") }
                    var links: [UInt32] = []
                    for _ in 0 ..< count {
                        let link = try section.read(UInt32.self)
                        guard Int(link) < n else { throw .corruptFile("node \(node) links to a node that does not exist") }
                        links.append(link)
                    }
                    layers.append(links)
                }
                upper.append(layers)
            }
            return upper
        }
        guard reader.remaining == 0 else { throw .corruptFile("\(reader.remaining) unexpected bytes after the last section") }
        for (node, id) in index.ids.enumerated() {
            guard index.nodeOfID[id] == nil else { throw .corruptFile("id \(id) is stored twice") }
            if !index.deleted[node] { index.nodeOfID[id] = node }
        }
        if n > 0 {
            guard Int(index.levels[Int(entry)]) == topLevel else { throw .corruptFile("the entry point is not on the top level") }
            index.entryPoint = Int(entry)
            index.topLevel = topLevel
        }
        index.generator = SeededGenerator(seed: seed &+ nodeCount)
        return index
    }
}

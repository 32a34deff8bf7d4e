/// One inverted list: the vectors whose nearest coarse centroid is this list's.
///
/// Layout: `ids[i]` and `codes[i·m ..< (i+1)·m]` (and, when full vectors are kept,
/// `vectors[i·d ..< (i+1)·d]`) describe the same vector. Memory: `8 + m (+ 4d)` bytes per vector,
/// `m / 2` more for 4-bit codes (their packed copy).
public struct InvertedList: Sendable, Equatable {
    public internal(set) var ids: [UInt64] = []
    public internal(set) var codes: [UInt8] = []
    public internal(set) var vectors: [Float] = []
    /// `--refine-codes sq8`: `d` bytes a vector, `scalarCodes[i·d ..< (i+1)·d]`.
    public internal(set) var scalarCodes: [UInt8] = []
    /// 4-bit indexes: the codes again, packed in blocks of 32 for the fast scan (`FastScan`),
    /// and how many entries the packing covers.
    var fastScanCodes: [UInt8] = []
    var fastScanCount = 0

    public var count: Int { ids.count }

    /// Equal entries; the packed copy is derived from them.
    public static func == (lhs: InvertedList, rhs: InvertedList) -> Bool {
        lhs.ids == rhs.ids && lhs.codes == rhs.codes && lhs.vectors == rhs.vectors && lhs.scalarCodes == rhs.scalarCodes
    }

    public init() {}

    init(ids: [UInt64], codes: [UInt8], vectors: [Float], scalarCodes: [UInt8] = []) {
        self.ids = ids
        self.codes = codes
        self.vectors = vectors
        self.scalarCodes = scalarCodes
    }

    /// Bytes held, counting array capacity rather than length.
    var allocatedBytes: Int {
        ids.capacity * 8 + codes.capacity + vectors.capacity * 4 + scalarCodes.capacity + fastScanCodes.capacity
    }

    /// Drops spare capacity left by appends, so that a built index holds what it needs.
    mutating func compact() {
        if ids.capacity > ids.count { ids = ids.withUnsafeBufferPointer { Array($0) } }
        if codes.capacity > codes.count { codes = codes.withUnsafeBufferPointer { Array($0) } }
        if vectors.capacity > vectors.count { vectors = vectors.withUnsafeBufferPointer { Array($0) } }
        if scalarCodes.capacity > scalarCodes.count { scalarCodes = scalarCodes.withUnsafeBufferPointer { Array($0) } }
        if fastScanCodes.capacity > fastScanCodes.count { fastScanCodes = fastScanCodes.withUnsafeBufferPointer { Array($0) } }
    }
}

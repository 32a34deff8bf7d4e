/// One inverted list: the vectors whose nearest coarse centroid is this list's.
///
/// Layout: `ids[i]` and `codes[i·m ..< (i+1)·m]` (and, when full vectors are kept,
/// `vectors[i·d ..< (i+1)·d]`) describe the same vector. Memory: `8 + m (+ 4d)` bytes per vector.
public struct InvertedList: Sendable, Equatable {
    public internal(set) var ids: [UInt64] = []
    public internal(set) var codes: [UInt8] = []
    public internal(set) var vectors: [Float] = []

    public var count: Int { ids.count }

    public init() {}

    init(ids: [UInt64], codes: [UInt8], vectors: [Float]) {
        self.ids = ids
        self.codes = codes
        self.vectors = vectors
    }

    /// Bytes held, counting array capacity rather than length.
    var allocatedBytes: Int {
        ids.capacity * 8 + codes.capacity + vectors.capacity * 4
    }

    /// Drops spare capacity left by appends, so that a built index holds what it needs.
    mutating func compact() {
        if ids.capacity > ids.count { ids = ids.withUnsafeBufferPointer { Array($0) } }
        if codes.capacity > codes.count { codes = codes.withUnsafeBufferPointer { Array($0) } }
        if vectors.capacity > vectors.count { vectors = vectors.withUnsafeBufferPointer { Array($0) } }
    }
}

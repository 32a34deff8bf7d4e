/// Errors of turning bytes into messages. Each is answered with a typed error reply.
public enum WireError: Error, Equatable, CustomStringConvertible {
    case oversized(bytes: Int, limit: Int)
    case malformed(String)
    case missingField(String)
    case unsupportedVersion(got: UInt32, supported: UInt32)

    public var description: String {
        switch self {
        case .oversized(let bytes, let limit):
            return "frame of \(bytes) bytes exceeds the \(limit)-byte limit: send smaller batches"
        case .malformed(let what):
            return "malformed frame: \(what); send one protobuf Request per message (see docs/PROTOCOL.md)"
        case .missingField(let field):
            return "the request lacks \(field)"
        case .unsupportedVersion(let got, let supported):
            return "protocol version \(got) is not supported (this server speaks \(supported))"
        }
    }

}

/// Frame limits. A frame above `maxFrameBytes` is refused before it is parsed.
public enum FrameLimits {
    /// 64 MiB: a 100,000 × 128-float add batch is 51 MiB.
    public static let maxFrameBytes = 64 << 20
    /// Largest reply a client decodes: 256 MiB (a codebook fetch carries a whole index file).
    public static let maxReplyBytes = 256 << 20

    /// The most memory unpacking a frame of `frameBytes` may take (see `AllocationBudget`).
    public static func unpackBudget(frameBytes: Int) -> Int { 4 * frameBytes + (1 << 20) }

    /// What a reply may take beyond `unpackBudget` for each result list the request asked for: a
    /// list of one neighbour is 18 bytes on the wire but about 170 in memory (its struct, two
    /// arrays, malloc's headers), so a 10,000-query search with k = 1 would otherwise exceed the
    /// budget. The allowance follows the queries the caller itself sent, so a server cannot
    /// raise it.
    public static let replyBytesPerList = 256
}

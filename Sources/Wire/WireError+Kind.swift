import ErrorKinds

extension WireError: ClassifiedError {
    /// A frame that cannot be read is the sender's fault; another protocol version is its own kind.
    public var kind: ErrorKind {
        switch self {
        case .unsupportedVersion: return .unsupportedVersion
        case .oversized, .malformed, .missingField: return .badInput
        }
    }
}

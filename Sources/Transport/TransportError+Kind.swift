import ErrorKinds

extension TransportError: ClassifiedError {
    /// A peer that cannot be reached or answers too late may answer later; anything else is a bad
    /// address or a bug.
    public var kind: ErrorKind {
        switch self {
        case .invalidAddress, .tls: return .badInput
        default: return isUnavailable ? .unavailable : .internalError
        }
    }
}

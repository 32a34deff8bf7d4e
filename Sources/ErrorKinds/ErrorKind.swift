/// What a failure means to the one who sees it, decided once where the error is defined. The
/// wire's `ErrorCode`, the HTTP status and the command line's exit status all follow from the kind alone
/// (`Wire`'s `ErrorKind+Codes.swift` holds that table).
public enum ErrorKind: Sendable, Equatable, CaseIterable {
    /// The request, file or flag is wrong; the user fixes it (wrong dimension, NaN, bad option).
    case badInput
    /// A missing or wrong token.
    case unauthorized
    /// A valid token whose role may not do this (a read token sending an add).
    case forbidden
    /// A named thing (id, collection, codebook) does not exist.
    case notFound
    /// The request clashes with the state (another cluster's data, other codebooks): retrying
    /// the same request cannot succeed.
    case conflict
    /// A peer is down, unreachable or overloaded: the same request may succeed later.
    case unavailable
    /// The request's deadline passed before it was answered.
    case deadlineExceeded
    /// The peer speaks another protocol version.
    case unsupportedVersion
    /// A bug, or a state we did not expect.
    case internalError
}

/// An error that knows its kind and has a message for people. Each module's error type conforms
/// in one file of that module (`VectorIndexError+Kind.swift`, …); nothing else casts errors.
public protocol ClassifiedError: Error, CustomStringConvertible {
    var kind: ErrorKind { get }
}

extension ErrorKind {
    /// The kind of any error: its own when it is classified, `internalError` otherwise.
    public init(of error: any Error) {
        self = (error as? any ClassifiedError)?.kind ?? .internalError
    }
}

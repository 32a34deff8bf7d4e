import ErrorKinds

/// The one table from an error's kind to what leaves the process: the wire's `ErrorCode` (for
/// a reply) and the exit status of a command (2: fix the input, 3: try again later, 1: a bug).
/// Each row reads both ways, so a code received from a peer gets its kind back.
let errorKindTable: [(kind: ErrorKind, code: ErrorCode, exitStatus: Int32)] = [
    (.badInput, .badRequest, 2),
    (.unauthorized, .unauthorized, 2),
    (.notFound, .notFound, 2),
    (.conflict, .conflict, 2),
    (.unsupportedVersion, .unsupportedVersion, 2),
    (.unavailable, .unavailable, 3),
    (.deadlineExceeded, .deadlineExceeded, 3),
    (.internalError, .internalError, 1),
]

extension ErrorKind {
    /// The code a server answers with.
    public var wireCode: ErrorCode { errorKindTable.first { $0.kind == self }!.code }

    /// The exit status of a command that ends with this kind of error.
    public var exitStatus: Int32 { errorKindTable.first { $0.kind == self }!.exitStatus }
}

extension ErrorCode {
    /// The kind a received code stands for (`unspecified` from a broken peer counts as internal).
    public var kind: ErrorKind { errorKindTable.first { $0.code == self }?.kind ?? .internalError }

    /// False when the same request cannot succeed later (the input or the state must change first).
    public var mayPassOnRetry: Bool { kind.exitStatus != 2 }
}

extension ErrorReply: ClassifiedError {
    public var kind: ErrorKind { code.kind }

    /// The reply a server sends for any error: its kind's code and its message.
    public init(classifying error: any Error) {
        if let reply = error as? ErrorReply {
            self = reply
        } else if let classified = error as? any ClassifiedError {
            self.init(classified.kind.wireCode, classified.description)
        } else {
            self.init(.internalError, "\(error)")
        }
    }
}

import CProtobufC
import CSightlineProto
import ErrorKinds

/// The one table from an error's kind to what leaves the process: the wire's `ErrorCode` (for
/// a reply), the HTTP status the HTTP API answers with, and the exit status of a command (2: fix
/// the input, 3: try again later, 1: a bug). Each row reads both ways, so a code received from a
/// peer gets its kind back. The code's name (`BAD_REQUEST`, …) is read from protoc-c's
/// descriptor of `Proto/sightline.proto`.
let errorKindTable: [(kind: ErrorKind, code: ErrorCode, httpStatus: Int, exitStatus: Int32)] = [
    (.badInput, .badRequest, 400, 2),
    (.unauthorized, .unauthorized, 401, 2),
    (.forbidden, .forbidden, 403, 2),
    (.notFound, .notFound, 404, 2),
    (.conflict, .conflict, 409, 2),
    (.unsupportedVersion, .unsupportedVersion, 400, 2),
    (.unavailable, .unavailable, 503, 3),
    (.deadlineExceeded, .deadlineExceeded, 504, 3),
    (.internalError, .internalError, 500, 1),
]

extension ErrorKind {
    private var row: (kind: ErrorKind, code: ErrorCode, httpStatus: Int, exitStatus: Int32) {
        errorKindTable.first { $0.kind == self }!
    }

    /// The code a server answers with.
    public var wireCode: ErrorCode { row.code }

    /// The status the HTTP API answers with.
    public var httpStatus: Int { row.httpStatus }

    /// The exit status of a command that ends with this kind of error.
    public var exitStatus: Int32 { row.exitStatus }
}

extension ErrorCode {
    /// The kind a received code stands for (`unspecified` from a broken peer counts as internal).
    public var kind: ErrorKind { errorKindTable.first { $0.code == self }?.kind ?? .internalError }

    /// False when the same request cannot succeed later (the input or the state must change first).
    public var mayPassOnRetry: Bool { kind.exitStatus != 2 }

    /// The code's name in `Proto/sightline.proto` (`BAD_REQUEST`, `FORBIDDEN`, …), as the HTTP
    /// API and the clients spell it.
    public var name: String { ErrorCode.names[self] ?? "INTERNAL" }

    private static let names: [ErrorCode: String] = {
        var names: [ErrorCode: String] = [:]
        withUnsafePointer(to: sightline__v1__error_code__descriptor) { descriptor in
            for index in 0 ..< Int(descriptor.pointee.n_values) {
                let value = descriptor.pointee.values[index]
                if let code = ErrorCode(rawValue: UInt32(value.value)) { names[code] = String(cString: value.name) }
            }
        }
        return names
    }()
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

/// An error made on the spot with a kind and a message, for checks that belong to no module's
/// own error type (a command-line option, a workflow step).
public struct SightlineError: ClassifiedError, Equatable {
    public var kind: ErrorKind
    public var message: String

    public init(_ kind: ErrorKind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    public static func badInput(_ message: String) -> SightlineError { SightlineError(.badInput, message) }
    public static func unavailable(_ message: String) -> SightlineError { SightlineError(.unavailable, message) }
    public static func internalError(_ message: String) -> SightlineError { SightlineError(.internalError, message) }
}

import Foundation
import Wire

/// An error as the HTTP API answers it: a status and `{"error": {"code", "message"}}` with the
/// nng API's code names.
public struct APIError: Error, Sendable, CustomStringConvertible {
    public var status: Int
    public var code: String
    public var message: String
    public var committedIDs: [UInt64] = []

    public init(status: Int, code: String, message: String, committedIDs: [UInt64] = []) {
        self.status = status
        self.code = code
        self.message = message
        self.committedIDs = committedIDs
    }

    /// The same error as the nng API would send it, under its HTTP status.
    public init(_ reply: ErrorReply) {
        let (status, code): (Int, String) = switch reply.code {
        case .badRequest: (400, "BAD_REQUEST")
        case .unauthorized: (reply.message.contains("may not send") ? 403 : 401, "UNAUTHORIZED")
        case .notFound: (404, "NOT_FOUND")
        case .unavailable: (503, "UNAVAILABLE")
        case .deadlineExceeded: (504, "DEADLINE_EXCEEDED")
        case .conflict: (409, "CONFLICT")
        case .unsupportedVersion: (400, "UNSUPPORTED_VERSION")
        case .internalError, .unspecified: (500, "INTERNAL")
        }
        self.init(status: status, code: code, message: reply.message, committedIDs: reply.committedIDs)
    }

    public static func badRequest(_ message: String) -> APIError { APIError(status: 400, code: "BAD_REQUEST", message: message) }

    public var description: String { "\(status) \(code): \(message)" }

    struct Body: Encodable {
        struct Detail: Encodable {
            var code: String
            var message: String
            var committed_ids: [UInt64]?
        }
        var error: Detail
    }

    public var response: HTTPResponse {
        let body = Body(error: .init(code: code, message: message, committed_ids: committedIDs.isEmpty ? nil : committedIDs))
        let bytes = (try? JSONEncoder().encode(body)).map { Array($0) } ?? Array("{\"error\":{\"code\":\"INTERNAL\"}}".utf8)
        return HTTPResponse(status: status, contentType: "application/json", body: bytes)
    }
}

import ErrorKinds
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

    /// The same error as the nng API would send it, under its kind's HTTP status (the one error
    /// table, `ErrorKind+Codes.swift`).
    public init(_ reply: ErrorReply) {
        self.init(status: reply.kind.httpStatus, code: reply.kind.wireCode.name, message: reply.message,
                  committedIDs: reply.committedIDs)
    }

    /// An error of `kind` made here, under its HTTP status and code name.
    public init(_ kind: ErrorKind, _ message: String) {
        self.init(status: kind.httpStatus, code: kind.wireCode.name, message: message)
    }

    public static func badRequest(_ message: String) -> APIError { APIError(.badInput, message) }

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

import ClusterModel
import Wire

/// What a service checks before a request's body costs anything, in the same order for the
/// coordinator and every worker: frame size, decoding (with the protocol version), token,
/// collection. The services differ only in the `respond` they pass.
public struct RequestGate: Sendable {
    /// Empty disables the check.
    public var token: String
    /// Empty accepts any collection.
    public var collection: String
    public var maxFrameBytes: Int

    public init(token: String, collection: String, maxFrameBytes: Int) {
        self.token = token
        self.collection = collection
        self.maxFrameBytes = maxFrameBytes
    }

    /// Checks `frame`, decodes it, answers with `respond` and encodes the reply. Before the token
    /// is checked only the frame's size and its envelope (the first field, at most 64 KiB) are
    /// read; the body is unpacked only for an admitted request. Never throws and never crashes on
    /// bad input: every failure becomes a typed error reply.
    public func handle(_ frame: [UInt8], respond: (Request) throws -> ResponseBody) -> [UInt8] {
        var requestID: UInt64 = 0
        let body: ResponseBody
        do {
            guard frame.count <= maxFrameBytes else { throw WireError.oversized(bytes: frame.count, limit: maxFrameBytes) }
            let envelope = try WireCodec.decodeEnvelope(frame)
            requestID = envelope.requestID
            try admit(envelope)
            body = try respond(try WireCodec.decodeRequest(frame, limit: maxFrameBytes))
        } catch {
            body = .error(ErrorReply(classifying: error))
        }
        return WireCodec.encode(Response(requestID: requestID, body: body))
    }

    func admit(_ envelope: Envelope) throws(ErrorReply) {
        if !token.isEmpty, !constantTimeEquals(envelope.token, token) {
            throw ErrorReply(.unauthorized, envelope.token.isEmpty ? "missing token" : "wrong token")
        }
        if !envelope.collection.isEmpty, !collection.isEmpty, envelope.collection != collection {
            throw ErrorReply(.notFound, "unknown collection \"\(envelope.collection)\": this cluster serves \"\(collection)\"")
        }
        guard envelope.deadlineMilliseconds <= RequestLimits.maxDeadlineMilliseconds else {
            throw ErrorReply(.badRequest, "deadline_ms = \(envelope.deadlineMilliseconds) is above the limit of "
                + "\(RequestLimits.maxDeadlineMilliseconds) ms")
        }
    }
}

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

    /// Decodes `frame`, checks it, answers with `respond` and encodes the reply. Never throws and
    /// never crashes on bad input: every failure becomes a typed error reply.
    public func handle(_ frame: [UInt8], respond: (Request) throws -> ResponseBody) -> [UInt8] {
        let request: Request
        do {
            guard frame.count <= maxFrameBytes else { throw WireError.oversized(bytes: frame.count, limit: maxFrameBytes) }
            request = try WireCodec.decodeRequest(frame, limit: maxFrameBytes)
        } catch {
            let reply = ErrorReply(classifying: error)
            return WireCodec.encode(Response(requestID: WireCodec.bestEffortRequestID(frame), body: .error(reply)))
        }
        let body: ResponseBody
        do {
            try admit(request.envelope)
            body = try respond(request)
        } catch {
            body = .error(ErrorReply(classifying: error))
        }
        return WireCodec.encode(Response(requestID: request.envelope.requestID, body: body))
    }

    func admit(_ envelope: Envelope) throws(ErrorReply) {
        if !token.isEmpty, !constantTimeEquals(envelope.token, token) {
            throw ErrorReply(.unauthorized, envelope.token.isEmpty ? "missing token" : "wrong token")
        }
        if !envelope.collection.isEmpty, !collection.isEmpty, envelope.collection != collection {
            throw ErrorReply(.notFound, "unknown collection \"\(envelope.collection)\": this cluster serves \"\(collection)\"")
        }
    }
}

import ClusterModel
import ProcessRuntime
import Wire

/// What a service checks before a request's body costs anything, in the same order for the
/// coordinator and every worker: frame size, the envelope (protocol version, token and its role,
/// collection, deadline), then the body and whether the role may send it. The services differ
/// only in the `respond` they pass.
public struct RequestGate: Sendable {
    public var tokens: AccessTokens
    /// Empty accepts any collection.
    public var collection: String
    public var maxFrameBytes: Int
    /// Memory large admitted frames may take at once.
    public let admission: DecodeAdmission

    public init(tokens: AccessTokens, collection: String, maxFrameBytes: Int, admission: DecodeAdmission = DecodeAdmission()) {
        self.admission = admission
        self.tokens = tokens
        self.collection = collection
        self.maxFrameBytes = maxFrameBytes
    }

    /// Checks `frame`, decodes it, answers with `respond` and encodes the reply. Before the token
    /// is checked only the frame's size and its envelope (the first field, at most 64 KiB) are
    /// read; the body is unpacked only for an admitted request. Never throws and never crashes on
    /// bad input: every failure becomes a typed error reply.
    public func handle(_ frame: [UInt8], respond: (Request) throws -> ResponseBody) -> [UInt8] {
        frame.withUnsafeBytes { handle($0, respond: respond) }
    }

    /// The same for a frame lent by the transport, read where it was received. When `lane`
    /// names a `BackgroundLane` for the body's kind, the body is unpacked, answered and
    /// packed there (bulk work at idle priority), only after the token and role were checked.
    public func handle(_ frame: UnsafeRawBufferPointer, lane: ((RequestKind) -> BackgroundLane?)? = nil,
                       respond: (Request) throws -> ResponseBody) -> [UInt8] {
        var requestID: UInt64 = 0
        do {
            guard frame.count <= maxFrameBytes else { throw WireError.oversized(bytes: frame.count, limit: maxFrameBytes) }
            let envelope = try WireCodec.decodeEnvelope(frame)
            requestID = envelope.requestID
            let role = try admit(envelope)
            // The role is checked on the body's field number, before the body is unpacked.
            let field = try WireCodec.bodyFieldNumber(frame)
            let kind = field.flatMap { RequestKind(fieldNumber: $0) }
            if let kind, role < kind.leastRole {
                throw ErrorReply(.forbidden, "a \(role) token may not send \(kind.name): it needs a \(kind.leastRole) token")
            }
            if let kind, let background = lane?(kind) {
                // The caller waits for the lane, so the lent frame and `respond` outlive the job.
                return try withoutActuallyEscaping(respond) { respond in
                    let job = LaneJob { self.answer(frame, envelope: envelope, admittedField: field, respond: respond) }
                    return try background.run { job.run() }
                }
            }
            return answer(frame, envelope: envelope, admittedField: field, respond: respond)
        } catch {
            return WireCodec.encode(Response(requestID: requestID, body: .error(ErrorReply(classifying: error))))
        }
    }

    /// Unpacks an admitted frame's body within its memory budget, answers it and packs the reply.
    func answer(_ frame: UnsafeRawBufferPointer, envelope: Envelope, admittedField: UInt64?,
                respond: (Request) throws -> ResponseBody) -> [UInt8] {
        let body: ResponseBody
        do {
            body = try admission.admitting(frameBytes: frame.count) {
                let request = try WireCodec.decodeRequest(frame, envelope: envelope)
                // The role was checked on `admittedField`; only that body may run (the frame walk
                // already refuses second bodies: this keeps the two decisions tied together).
                guard request.body.fieldNumber == admittedField else {
                    throw ErrorReply(.badRequest, "the frame's body is not the one its role was checked on")
                }
                return try respond(request)
            }
        } catch {
            body = .error(ErrorReply(classifying: error))
        }
        return WireCodec.encode(Response(requestID: envelope.requestID, body: body))
    }

    /// The role the envelope's token grants, after its collection and deadline are checked.
    func admit(_ envelope: Envelope) throws(ErrorReply) -> AccessRole {
        guard let role = tokens.role(of: envelope.token) else {
            throw ErrorReply(.unauthorized, envelope.token.isEmpty ? "missing token" : "wrong token")
        }
        if !envelope.collection.isEmpty, !collection.isEmpty, envelope.collection != collection {
            throw ErrorReply(.notFound, "unknown collection \"\(envelope.collection)\": this cluster serves \"\(collection)\"")
        }
        guard envelope.deadlineMilliseconds <= RequestLimits.maxDeadlineMilliseconds else {
            throw ErrorReply(.badRequest, "deadline_ms = \(envelope.deadlineMilliseconds) is above the limit of "
                + "\(RequestLimits.maxDeadlineMilliseconds) ms")
        }
        return role
    }
}

/// A gate's work handed to a lane while the caller waits for it (what it borrows outlives it).
private struct LaneJob: @unchecked Sendable {
    let run: () -> [UInt8]
}


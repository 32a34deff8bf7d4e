import ErrorKinds
import ClusterModel
import Dispatch
import NIOCore
import NIOHTTP1
import VectorMath

/// Reads one request at a time from a connection (SwiftNIO's pipeline handler holds back
/// pipelined ones), with Sightline's rules in order: the route, then the bearer token and its
/// role, then the declared length — a request refused there costs no body read — then the body,
/// Content-Length or chunked, never more than `maxBodyBytes` and never more than `maxInFlight`
/// bodies held at once. The route runs on the gateway's threads; its answer is written back on
/// the connection's event loop, and a route counts in `maxInFlight` until its answer has left
/// for the socket. While answers wait for a client that does not read them (the channel is not
/// writable), nothing more is read from it: a client that pipelines requests and never reads
/// holds one socket's buffers, not a growing pile of answers.
final class HTTPRequestHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        /// Between requests.
        case waiting
        /// Reading the body of an admitted request.
        case reading(HTTPRequest, HTTPRoute, keepAlive: Bool, started: DispatchTime)
        /// The route is running, or a refusal is being written: the rest of the request is dropped.
        case answering
    }

    private let shared: Shared
    private let clock: HTTPConnectionClock
    private var state = State.waiting
    private var body: ByteBuffer?
    /// The body counts in `shared.bodiesInFlight` until the answer is written.
    private var holdsBody = false
    private var bodyDeadline: Scheduled<Void>?
    /// A read was asked for while the channel was not writable: it is issued once it is.
    private var readWaiting = false

    init(shared: Shared, clock: HTTPConnectionClock) {
        self.shared = shared
        self.clock = clock
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            clock.requestStarted()
            start(context, head)
        case .body(var chunk):
            guard case .reading = state else { return }
            let held = body?.readableBytes ?? 0
            guard held + chunk.readableBytes <= shared.maxBodyBytes else {
                return refuse(context, APIError(status: 413, code: "BAD_REQUEST",
                                                message: "the body has more than \(shared.maxBodyBytes) bytes; "
                                                         + "this server takes at most \(shared.maxBodyBytes)"))
            }
            if body == nil { body = chunk } else { body!.writeBuffer(&chunk) }
        case .end:
            guard case .reading(var request, let route, let keepAlive, let started) = state else { return }
            bodyDeadline?.cancel()
            bodyDeadline = nil
            state = .answering
            if let bytes = body?.readableBytesView { request.body = Array(bytes) }
            body = nil
            run(context, request, route, keepAlive: keepAlive, started: started)
        }
    }

    func read(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            context.read()
        } else {
            readWaiting = true
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, readWaiting {
            readWaiting = false
            context.read()
        }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        bodyDeadline?.cancel()
        releaseBody()
        context.fireChannelInactive()
    }

    /// The head is in: find the route and decide before a byte of the body is read.
    private func start(_ context: ChannelHandlerContext, _ head: HTTPRequestHead) {
        let started = DispatchTime.now()
        let (path, query) = splitURI(head.uri)
        let candidates = shared.routes.filter { $0.matches(path) }
        guard let route = candidates.first(where: { $0.method == head.method.rawValue }) else {
            let error = candidates.isEmpty ? APIError(.notFound, "no such route")
                : APIError(status: 405, code: "BAD_REQUEST", message: "method not allowed on this route")
            return self.refuse(context, error)
        }
        func deny(_ error: APIError) { self.refuse(context, error, route: route, started: started) }
        guard !shared.closing.load(ordering: .relaxed) else {
            return deny(APIError(.unavailable, "the coordinator is stopping"))
        }
        var request = HTTPRequest(method: head.method.rawValue, path: path, query: query,
                                  contentType: head.headers.first(name: "Content-Type") ?? "", body: [], token: [], role: nil)
        // The token first: a refused request costs no body read and no parsing.
        let bearer = head.headers.first(name: "Authorization").flatMap { value -> [UInt8]? in
            value.hasPrefix("Bearer ") ? Array(value.utf8.dropFirst(7)) : nil
        } ?? []
        request.token = bearer
        request.role = shared.tokens.role(of: bearer)
        if let needed = route.role {
            guard let role = request.role else {
                return deny(APIError(.unauthorized, bearer.isEmpty ? "missing token: send Authorization: Bearer TOKEN" : "wrong token"))
            }
            guard role >= needed else {
                return deny(APIError(.forbidden, "a \(role) token may not use \(request.method) \(path): it needs a \(needed) token"))
            }
        }
        let chunked = head.headers[canonicalForm: "Transfer-Encoding"].contains { $0.lowercased() == "chunked" }
        let lengths = head.headers[canonicalForm: "Content-Length"]
        guard lengths.count <= 1 else { return deny(APIError.badRequest("Content-Length given twice")) }
        let declared = lengths.first.map { Int($0.trimmingCharacters(in: .whitespaces)) } ?? 0
        guard let length = declared, length >= 0 else { return deny(APIError.badRequest("Content-Length is not a number")) }
        guard length <= shared.maxBodyBytes else {
            return deny(APIError(status: 413, code: "BAD_REQUEST",
                                   message: "the body has \(length) bytes; this server takes at most \(shared.maxBodyBytes)"))
        }
        guard (length == 0 && !chunked) || route.takesBody else {
            return deny(APIError.badRequest("\(request.method) \(path) takes no body"))
        }
        if length > 0 || chunked {
            // A body costs memory from its first byte until its answer.
            guard shared.bodiesInFlight.add(1, ordering: .relaxed).newValue <= shared.maxInFlight else {
                shared.bodiesInFlight.subtract(1, ordering: .relaxed)
                return deny(APIError(.unavailable, "too many HTTP requests in flight: retry"))
            }
            holdsBody = true
            let channel = context.channel
            bodyDeadline = context.eventLoop.scheduleTask(in: .nanoseconds(Int64(shared.limits.bodyTimeoutSeconds * 1e9))) {
                channel.close(promise: nil)
            }
        }
        state = .reading(request, route, keepAlive: head.isKeepAlive, started: started)
        body = nil
    }

    /// Runs the route on the gateway's threads: at most `maxInFlight` routes that need a token at
    /// once (503 beyond); those that need none (health, the OpenAPI document) always run.
    private func run(_ context: ChannelHandlerContext, _ request: HTTPRequest, _ route: HTTPRoute, keepAlive: Bool, started: DispatchTime) {
        let counted = route.role != nil
        if counted, shared.inFlight.add(1, ordering: .relaxed).newValue > shared.maxInFlight {
            shared.inFlight.subtract(1, ordering: .relaxed)
            return respond(context, APIError(.unavailable, "too many HTTP requests in flight: retry").response,
                           route: route, started: started, keepAlive: keepAlive, counted: false)
        }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        let shared = self.shared
        shared.queue.async {
            let response = route.handle(request)
            eventLoop.execute {
                let (handler, context) = bound.value
                handler.respond(context, response, route: route, started: started, keepAlive: keepAlive, counted: counted)
            }
        }
    }

    /// Answers before the body was read: the connection closes after the answer, so unread body
    /// bytes are never parsed as the next request.
    private func refuse(_ context: ChannelHandlerContext, _ error: APIError, route: HTTPRoute? = nil, started: DispatchTime = .now()) {
        bodyDeadline?.cancel()
        bodyDeadline = nil
        state = .answering
        body = nil
        respond(context, error.response, route: route, started: started, keepAlive: false)
    }

    /// `counted`: the route holds a place in `inFlight`, given back once the answer is written.
    private func respond(_ context: ChannelHandlerContext, _ response: HTTPResponse, route: HTTPRoute?, started: DispatchTime,
                         keepAlive: Bool, counted: Bool = false) {
        if let route { shared.observe("\(route.method) \(route.path)", response.status, secondsElapsed(since: started.uptimeNanoseconds)) }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: response.contentType)
        headers.add(name: "Content-Length", value: "\(response.body.count)")
        headers.add(name: "X-Content-Type-Options", value: "nosniff")
        for (name, value) in response.headers { headers.add(name: name, value: value) }
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        let head = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: response.status), headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: response.body)))), promise: nil)
        let written = context.writeAndFlushEnd(wrapOutboundOut(.end(nil)))
        if counted {
            let shared = self.shared
            written.whenComplete { _ in shared.inFlight.subtract(1, ordering: .relaxed) }
        }
        releaseBody()
        state = .waiting
        if keepAlive {
            clock.requestAnswered(context: context)
        } else {
            let channel = context.channel
            written.whenComplete { _ in channel.close(promise: nil) }
        }
    }

    private func releaseBody() {
        if holdsBody { shared.bodiesInFlight.subtract(1, ordering: .relaxed) }
        holdsBody = false
    }
}

extension ChannelHandlerContext {
    /// Writes and flushes `part`, returning the future of the write.
    fileprivate func writeAndFlushEnd(_ part: NIOAny) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        writeAndFlush(part, promise: promise)
        return promise.futureResult
    }
}

extension HTTPRoute {
    /// The route's path, or (a tree) its path and everything below it.
    func matches(_ path: String) -> Bool {
        path == self.path || (isTree && path.hasPrefix(self.path.hasSuffix("/") ? self.path : self.path + "/"))
    }
}

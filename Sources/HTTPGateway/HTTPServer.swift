import CNNG
import ClusterModel
import Dispatch
import Foundation
import Synchronization
import VectorMath

/// One HTTP request as a route sees it: copied out of nng's request, the body read only after
/// the token and the declared length were accepted.
public struct HTTPRequest: Sendable {
    public var method: String
    /// The path without the query string.
    public var path: String
    public var query: [String: String]
    public var contentType: String
    public var body: [UInt8]
    /// The bearer token as sent, and the role it granted.
    public var token: [UInt8]
    public var role: AccessRole?
}

public struct HTTPResponse: Sendable {
    public var status: Int
    public var contentType: String
    public var body: [UInt8]
    public var headers: [(String, String)] = []

    public init(status: Int, contentType: String, body: [UInt8], headers: [(String, String)] = []) {
        self.status = status
        self.contentType = contentType
        self.body = body
        self.headers = headers
    }
}

/// A route: method and path (`isTree`: the path and everything below it), the role its token
/// needs (nil: anyone) and whether it takes a body.
public struct HTTPRoute: Sendable {
    public var method: String
    public var path: String
    public var isTree: Bool
    public var role: AccessRole?
    public var takesBody: Bool
    public var handle: @Sendable (HTTPRequest) -> HTTPResponse

    public init(_ method: String, _ path: String, isTree: Bool = false, role: AccessRole?, takesBody: Bool = false,
                handle: @escaping @Sendable (HTTPRequest) -> HTTPResponse) {
        self.method = method
        self.path = path
        self.isTree = isTree
        self.role = role
        self.takesBody = takesBody
        self.handle = handle
    }
}

/// nng's HTTP server with Sightline's rules in front of every route: the bearer token is checked
/// and the declared body length bounded before a byte of the body is read; routes run on a pool
/// of our threads (never nng's, which the coordinator's own calls to workers need), at most
/// `maxInFlight` at once (503 beyond).
public final class HTTPServer: @unchecked Sendable {
    // Safe: the nng handles are thread-safe; the route boxes are immutable after init.
    private var server: OpaquePointer?
    private var boxes: [Unmanaged<RouteContext>] = []
    public let listen: String

    /// `observe` hears of every answered request: its route ("POST /v1/search"), status and seconds.
    public init(listen: String, tokens: AccessTokens, maxBodyBytes: Int, maxInFlight: Int = 64, routes: [HTTPRoute],
                files: [(path: String, file: String)] = [],
                observe: @escaping @Sendable (_ route: String, _ status: Int, _ seconds: Double) -> Void = { _, _, _ in })
        throws(HTTPServerError) {
        self.listen = listen
        var url: UnsafeMutablePointer<nng_url>?
        guard nng_url_parse(&url, listen) == 0, let url else { throw .start("cannot parse \(listen) as http://HOST:PORT") }
        defer { nng_url_free(url) }
        try check(nng_http_server_hold(&server, url), "open the HTTP server on \(listen)")
        let shared = Shared(tokens: tokens, maxBodyBytes: maxBodyBytes, maxInFlight: maxInFlight, observe: observe)
        for route in routes {
            var handler: OpaquePointer?
            try check(nng_http_handler_alloc(&handler, route.path, httpRouteCallback), "add \(route.path)")
            nng_http_handler_set_method(handler, route.method)
            // The route reads its body itself, after the token check.
            nng_http_handler_collect_body(handler, false, 0)
            if route.isTree { nng_http_handler_set_tree(handler) }
            let box = Unmanaged.passRetained(RouteContext(route: route, shared: shared))
            boxes.append(box)
            nng_http_handler_set_data(handler, box.toOpaque(), nil)
            try check(nng_http_server_add_handler(server, handler), "add \(route.method) \(route.path)")
        }
        for (path, file) in files {
            var handler: OpaquePointer?
            try check(nng_http_handler_alloc_file(&handler, path, file), "serve \(file)")
            try check(nng_http_server_add_handler(server, handler), "serve \(file) at \(path)")
        }
        for (status, text) in [(404, "no such route"), (405, "method not allowed on this route"), (400, "malformed HTTP request")] {
            let json = "{\"error\":{\"code\":\"\(status == 404 ? "NOT_FOUND" : "BAD_REQUEST")\",\"message\":\"\(text)\"}}"
            nng_http_server_set_error_page(server, UInt16(status), json)
        }
        try check(nng_http_server_start(server), "listen on \(listen)")
    }

    /// Stops taking requests (503 from now on), lets those in flight finish for up to
    /// `graceSeconds`, then stops listening. nng's stop waits for every route to answer, so a
    /// route stuck on a slow shard is given the grace, not forever.
    public func close(graceSeconds: Double = 5) {
        guard let server else { return }
        let shared = boxes.first?.takeUnretainedValue().shared
        shared?.closing.store(true, ordering: .relaxed)
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(graceSeconds * 1e9)
        while let shared, shared.inFlight.load(ordering: .relaxed) + shared.bodiesInFlight.load(ordering: .relaxed) > 0,
              DispatchTime.now().uptimeNanoseconds < deadline {
            usleep(10_000)
        }
        nng_http_server_stop(server)
        nng_http_server_release(server)
        self.server = nil
    }

    deinit {
        close()
        boxes.forEach { $0.release() }
    }

    private func check(_ code: Int32, _ what: String) throws(HTTPServerError) {
        guard code == 0 else { throw .start("\(what): \(String(cString: nng_strerror(code)))") }
    }
}

public enum HTTPServerError: Error, CustomStringConvertible {
    case start(String)
    public var description: String {
        switch self {
        case .start(let detail): return "HTTP API: \(detail)"
        }
    }
}

/// What every route shares: tokens, limits and the pool's admission count.
final class Shared: Sendable {
    let tokens: AccessTokens
    let maxBodyBytes: Int
    let maxInFlight: Int
    /// Routes running, and bodies held: from the first byte read until the answer is sent (each
    /// at most `maxInFlight`; routes without a token count in neither, so a busy API never fails
    /// a health probe). Bodies in memory are thus at most `maxInFlight` × `maxBodyBytes`.
    let inFlight = Atomic<Int>(0)
    let bodiesInFlight = Atomic<Int>(0)
    let closing = Atomic<Bool>(false)
    let queue = DispatchQueue(label: "sightline.http", attributes: .concurrent)
    let observe: @Sendable (String, Int, Double) -> Void

    init(tokens: AccessTokens, maxBodyBytes: Int, maxInFlight: Int, observe: @escaping @Sendable (String, Int, Double) -> Void) {
        self.observe = observe
        self.tokens = tokens
        self.maxBodyBytes = maxBodyBytes
        self.maxInFlight = maxInFlight
    }
}

final class RouteContext: Sendable {
    let route: HTTPRoute
    let shared: Shared
    init(route: HTTPRoute, shared: Shared) {
        self.route = route
        self.shared = shared
    }
}

/// A request whose body is being read: freed when the route has answered, and only then does
/// its body leave `bodiesInFlight`.
final class PendingRequest: @unchecked Sendable {
    // Safe: touched by one thread at a time (nng's read callback, then the pool).
    let aio: OpaquePointer
    let context: RouteContext
    var request: HTTPRequest
    var readAIO: OpaquePointer?
    /// Where nng reads the body; freed as soon as it is copied into `request.body`.
    var buffer: UnsafeMutableRawBufferPointer
    let started: DispatchTime
    /// Counted in `bodiesInFlight` (a request with a body).
    let holdsBody: Bool

    init(aio: OpaquePointer, context: RouteContext, request: HTTPRequest, length: Int, started: DispatchTime) {
        self.started = started
        self.aio = aio
        self.context = context
        self.request = request
        holdsBody = length > 0
        buffer = .allocate(byteCount: max(1, length), alignment: 16)
    }

    /// The body read by nng becomes `request.body`; the read buffer is freed at once, so a route
    /// runs with one copy of its body.
    func takeBody() {
        request.body = Array(buffer)
        buffer.deallocate()
        buffer = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    }

    deinit {
        buffer.deallocate()
        if holdsBody { context.shared.bodiesInFlight.subtract(1, ordering: .relaxed) }
    }
}

/// nng calls this on its own thread once a request's headers are in.
private func httpRouteCallback(_ aio: OpaquePointer?) {
    guard let aio else { return }
    guard let requestPointer = nng_aio_get_input(aio, 0), let handlerPointer = nng_aio_get_input(aio, 1),
          let data = nng_http_handler_get_data(OpaquePointer(handlerPointer)) else {
        // Not a request nng should have handed over: end it (nng closes the connection).
        return nng_aio_finish(aio, Int32(NNG_EINVAL.rawValue))
    }
    let context = Unmanaged<RouteContext>.fromOpaque(data).takeUnretainedValue()
    let started = DispatchTime.now()
    func answer(_ response: HTTPResponse, close: Bool = false) {
        finish(aio, response, close: close, context: context, started: started)
    }
    let shared = context.shared
    guard !shared.closing.load(ordering: .relaxed) else {
        return answer(APIError(status: 503, code: "UNAVAILABLE", message: "the coordinator is stopping").response, close: true)
    }
    let nngRequest = OpaquePointer(requestPointer)
    let uri = String(cString: nng_http_req_get_uri(nngRequest))
    let (path, query) = splitURI(uri)
    var request = HTTPRequest(method: String(cString: nng_http_req_get_method(nngRequest)), path: path, query: query,
                              contentType: header(nngRequest, "Content-Type") ?? "", body: [], token: [], role: nil)
    // The token first: a refused request costs no body read and no parsing.
    let bearer = header(nngRequest, "Authorization").flatMap { value -> [UInt8]? in
        value.hasPrefix("Bearer ") ? Array(value.utf8.dropFirst(7)) : nil
    } ?? []
    request.token = bearer
    request.role = shared.tokens.role(of: bearer)
    if let needed = context.route.role {
        guard let role = request.role else {
            let message = bearer.isEmpty ? "missing token: send Authorization: Bearer TOKEN" : "wrong token"
            return answer(APIError(status: 401, code: "UNAUTHORIZED", message: message).response, close: true)
        }
        guard role >= needed else {
            return answer(APIError(status: 403, code: "UNAUTHORIZED",
                                        message: "a \(role) token may not use \(request.method) \(path): it needs a \(needed) token").response,
                          close: true)
        }
    }
    let declared = header(nngRequest, "Content-Length").map { Int($0.trimmingCharacters(in: .whitespaces)) } ?? 0
    guard let length = declared, length >= 0 else {
        return answer(APIError(status: 400, code: "BAD_REQUEST", message: "Content-Length is not a number").response, close: true)
    }
    guard length <= shared.maxBodyBytes else {
        return answer(APIError(status: 413, code: "BAD_REQUEST",
                                    message: "the body has \(length) bytes; this server takes at most \(shared.maxBodyBytes)").response,
                      close: true)
    }
    guard length == 0 || context.route.takesBody else {
        return answer(APIError(status: 400, code: "BAD_REQUEST", message: "\(request.method) \(path) takes no body").response,
                      close: true)
    }
    guard length > 0, let connection = nng_aio_get_input(aio, 2) else {
        return run(PendingRequest(aio: aio, context: context, request: request, length: 0, started: started))
    }
    // A body costs memory from its first byte until its answer: at most `maxInFlight` are held
    // at once (the count is returned when the PendingRequest is freed).
    guard shared.bodiesInFlight.add(1, ordering: .relaxed).newValue <= shared.maxInFlight else {
        shared.bodiesInFlight.subtract(1, ordering: .relaxed)
        return answer(APIError(status: 503, code: "UNAVAILABLE", message: "too many HTTP requests in flight: retry").response, close: true)
    }
    let pending = PendingRequest(aio: aio, context: context, request: request, length: length, started: started)
    var readAIO: OpaquePointer?
    let retained = Unmanaged.passRetained(pending)
    guard nng_aio_alloc(&readAIO, bodyReadCallback, retained.toOpaque()) == 0, let readAIO else {
        retained.release()  // and with it the body's count
        return answer(APIError(status: 503, code: "UNAVAILABLE", message: "cannot read the body now: retry").response, close: true)
    }
    pending.readAIO = readAIO
    var iov = nng_iov(iov_buf: pending.buffer.baseAddress, iov_len: length)
    nng_aio_set_iov(readAIO, 1, &iov)
    nng_aio_set_timeout(readAIO, 30_000)
    nng_http_conn_read_all(OpaquePointer(connection), readAIO)
}

/// The body is in (or the read failed): the route runs on the pool.
private func bodyReadCallback(_ argument: UnsafeMutableRawPointer?) {
    guard let argument else { return }
    let pending = Unmanaged<PendingRequest>.fromOpaque(argument).takeRetainedValue()
    let result = pending.readAIO.map { nng_aio_result($0) } ?? Int32(NNG_EINVAL.rawValue)
    // An aio may not be freed inside its own callback.
    if let readAIO = pending.readAIO { nng_aio_reap(readAIO) }
    pending.readAIO = nil
    guard result == 0 else {
        return finish(pending.aio, APIError(status: 400, code: "BAD_REQUEST", message: "the body ended before Content-Length bytes").response,
                      close: true, context: pending.context, started: pending.started)
    }
    pending.takeBody()
    run(pending)
}

/// Runs the route on the gateway's threads: at most `maxInFlight` routes that need a token at
/// once (503 beyond); those that need none (health, the OpenAPI document) always run.
private func run(_ pending: PendingRequest) {
    let shared = pending.context.shared
    let counted = pending.context.route.role != nil
    if counted, shared.inFlight.add(1, ordering: .relaxed).newValue > shared.maxInFlight {
        shared.inFlight.subtract(1, ordering: .relaxed)
        return finish(pending.aio, APIError(status: 503, code: "UNAVAILABLE", message: "too many HTTP requests in flight: retry").response,
                      context: pending.context, started: pending.started)
    }
    shared.queue.async {
        let response = pending.context.route.handle(pending.request)
        if counted { shared.inFlight.subtract(1, ordering: .relaxed) }
        finish(pending.aio, response, context: pending.context, started: pending.started)
    }
}

private func finish(_ aio: OpaquePointer, _ response: HTTPResponse, close: Bool = false, context: RouteContext, started: DispatchTime) {
    let seconds = secondsElapsed(since: started.uptimeNanoseconds)
    context.shared.observe("\(context.route.method) \(context.route.path)", response.status, seconds)
    var result: OpaquePointer?
    guard nng_http_res_alloc(&result) == 0, let result else { return nng_aio_finish(aio, Int32(NNG_ENOMEM.rawValue)) }
    nng_http_res_set_status(result, UInt16(clamping: response.status))
    nng_http_res_set_header(result, "Content-Type", response.contentType)
    nng_http_res_set_header(result, "X-Content-Type-Options", "nosniff")
    for (name, value) in response.headers { nng_http_res_set_header(result, name, value) }
    // A body left unread must not be parsed as the next request.
    if close { nng_http_res_set_header(result, "Connection", "close") }
    response.body.withUnsafeBytes { _ = nng_http_res_copy_data(result, $0.baseAddress, $0.count) }
    nng_aio_set_output(aio, 0, UnsafeMutableRawPointer(result))
    nng_aio_finish(aio, 0)
}

private func header(_ request: OpaquePointer, _ name: String) -> String? {
    nng_http_req_get_header(request, name).map { String(cString: $0) }
}

/// `/a/b?x=1&y=2` → ("/a/b", ["x": "1", "y": "2"]), percent-decoding the values.
func splitURI(_ uri: String) -> (path: String, query: [String: String]) {
    let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
    var query: [String: String] = [:]
    if parts.count == 2 {
        for pair in parts[1].split(separator: "&") {
            let keyValue = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let value = keyValue.count == 2 ? String(keyValue[1]).replacingOccurrences(of: "+", with: " ") : ""
            query[String(keyValue[0])] = value.removingPercentEncoding ?? value
        }
    }
    return (String(parts[0]), query)
}

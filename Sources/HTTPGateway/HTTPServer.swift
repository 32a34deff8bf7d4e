import ClusterModel
import Dispatch
import Foundation
import Synchronization
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Wire
import VectorMath

/// One HTTP request as a route sees it: the body read only after the token and the declared
/// length were accepted.
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

/// The HTTP listener, on SwiftNIO, with Sightline's rules in front of every route: connections
/// are capped over all peers and per address and timed (`HTTPLimits`), so slow or idle peers
/// cannot hold the file descriptors the coordinator's nng links need; the bearer token is checked
/// and the declared body length bounded before a byte of the body is read; routes run on a pool
/// of our threads (never the event loop), at most `maxInFlight` at once (503 beyond).
public final class HTTPServer: @unchecked Sendable {
    // Safe: `channel` is set once in init and read in close, which runs once.
    private let group: MultiThreadedEventLoopGroup
    private var channel: (any Channel)?
    private let shared: Shared
    private let connections: HTTPConnectionCount
    public let listen: String
    /// The port the listener took (useful with port 0).
    public let port: Int

    /// `observe` hears of every answered request: its route ("POST /v1/search"), status and seconds.
    /// `files`: URL paths served (GET, no token) from files read once here.
    /// `tls`: PEM files of the certificate (chain) and key to serve HTTPS with; `listen` is then
    /// `https://HOST:PORT`.
    public init(listen: String, tokens: AccessTokens, maxBodyBytes: Int, maxInFlight: Int = 64, limits: HTTPLimits = HTTPLimits(),
                tls: (certificate: String, key: String)? = nil, routes: [HTTPRoute], files: [(path: String, file: String)] = [],
                observe: @escaping @Sendable (_ route: String, _ status: Int, _ seconds: Double) -> Void = { _, _, _ in })
        throws(HTTPServerError) {
        self.listen = listen
        let scheme = tls == nil ? "http://" : "https://"
        guard listen.hasPrefix(scheme) else { throw .start("cannot listen on \(listen): use \(scheme)HOST:PORT") }
        let sslContext: NIOSSLContext?
        if let tls {
            do {
                let chain = try NIOSSLCertificate.fromPEMFile(tls.certificate).map { NIOSSLCertificateSource.certificate($0) }
                let key = try NIOSSLPrivateKey(file: tls.key, format: .pem)
                var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
                configuration.minimumTLSVersion = .tlsv12
                sslContext = try NIOSSLContext(configuration: configuration)
            } catch {
                throw .start("HTTPS with \(tls.certificate) and \(tls.key): \(error)")
            }
        } else {
            sslContext = nil
        }
        let hostPort = listen.dropFirst(scheme.count).split(separator: "/", maxSplits: 1).first.map(String.init) ?? ""
        guard let colon = hostPort.lastIndex(of: ":"), let port = Int(hostPort[hostPort.index(after: colon)...]),
              (0 ... 65535).contains(port) else {
            throw .start("cannot parse \(listen) as http://HOST:PORT")
        }
        var host = String(hostPort[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host.isEmpty || host == "*" { host = "0.0.0.0" }
        var allRoutes = routes
        for (path, file) in files {
            let bytes: [UInt8]
            do { bytes = Array(try Data(contentsOf: URL(fileURLWithPath: file))) } catch { throw .start("serve \(file): \(error)") }
            let type = Self.contentType(of: file)
            allRoutes.append(HTTPRoute("GET", path, role: nil) { _ in HTTPResponse(status: 200, contentType: type, body: bytes) })
        }
        shared = Shared(tokens: tokens, maxBodyBytes: maxBodyBytes, maxInFlight: maxInFlight, limits: limits,
                        routes: allRoutes, observe: observe)
        connections = HTTPConnectionCount(limits: limits)
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let shared = self.shared, connections = self.connections
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                let address = HTTPConnectionCount.key(of: channel.remoteAddress)
                guard let id = connections.admit(channel, from: address) else {
                    // Every place is busy: one short answer without a pipeline, then the socket closes.
                    let text = "{\"error\":{\"code\":\"UNAVAILABLE\",\"message\":\"too many HTTP connections: retry\"}}"
                    let answer = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                        + "Content-Length: \(text.utf8.count)\r\n"
                        + "Connection: close\r\n\r\n" + text
                    channel.writeAndFlush(channel.allocator.buffer(string: answer)).whenComplete { _ in channel.close(promise: nil) }
                    return channel.eventLoop.makeSucceededVoidFuture()
                }
                channel.closeFuture.whenComplete { _ in connections.release(id) }
                do {
                    let clock = HTTPConnectionClock(limits: shared.limits) { busy in connections.setBusy(id, busy) }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(clock, position: .first)
                    // Decrypted bytes reach the clock: a head is timed as it arrives in the clear.
                    if let sslContext {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: sslContext), position: .first)
                    }
                    try channel.pipeline.syncOperations.addHandler(HTTPRequestHandler(shared: shared, clock: clock))
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
            .childChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 4)
        do {
            let channel = try bootstrap.bind(host: host, port: port).wait()
            self.channel = channel
            self.port = channel.localAddress?.port ?? port
        } catch {
            try? group.syncShutdownGracefully()
            throw .start("listen on \(listen): \(error)")
        }
    }

    /// Connections open now.
    public var connectionCount: Int { connections.total }

    /// Stops taking requests (503 from now on), lets those in flight finish for up to
    /// `graceSeconds`, then stops listening and closes every connection.
    public func close(graceSeconds: Double = 5) {
        guard let channel else { return }
        self.channel = nil
        shared.closing.store(true, ordering: .relaxed)
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(graceSeconds * 1e9)
        while shared.inFlight.load(ordering: .relaxed) + shared.bodiesInFlight.load(ordering: .relaxed) > 0,
              DispatchTime.now().uptimeNanoseconds < deadline {
            usleep(10_000)
        }
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
    }

    deinit { close() }

    static func contentType(of file: String) -> String {
        let types = [".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
                     ".png": "image/png", ".svg": "image/svg+xml", ".json": "application/json"]
        return types.first { file.hasSuffix($0.key) }?.value ?? "application/octet-stream"
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

/// What every connection shares: tokens, routes, limits and the pool's admission counts.
final class Shared: Sendable {
    let tokens: AccessTokens
    let maxBodyBytes: Int
    let maxInFlight: Int
    let limits: HTTPLimits
    let routes: [HTTPRoute]
    /// Routes running, and bodies held: from the first byte read until the answer is sent (each
    /// at most `maxInFlight`; routes without a token count in neither, so a busy API never fails
    /// a health probe). Bodies in memory are thus at most `maxInFlight` × `maxBodyBytes`.
    let inFlight = Atomic<Int>(0)
    let bodiesInFlight = Atomic<Int>(0)
    let closing = Atomic<Bool>(false)
    let queue = DispatchQueue(label: "sightline.http", attributes: .concurrent)
    let observe: @Sendable (String, Int, Double) -> Void

    init(tokens: AccessTokens, maxBodyBytes: Int, maxInFlight: Int, limits: HTTPLimits, routes: [HTTPRoute],
         observe: @escaping @Sendable (String, Int, Double) -> Void) {
        self.observe = observe
        self.tokens = tokens
        self.maxBodyBytes = maxBodyBytes
        self.maxInFlight = maxInFlight
        self.limits = limits
        self.routes = routes
    }
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

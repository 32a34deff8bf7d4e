import ArgumentParser
import Transport
import Wire

/// The options every service process takes, whatever it serves.
public struct ServiceOptions: ParsableArguments {
    @Option(help: "Request threads: concurrent requests served (default: 4 on a worker, 8 on the coordinator).")
    public var threads: Int?

    @Option(help: "Largest request accepted, in bytes; larger frames get a typed error.")
    public var maxFrameBytes: Int = FrameLimits.maxFrameBytes

    @Option(help: "Most clients connected at once; more are closed as they connect (each may hold a frame in memory).")
    public var maxConnections: Int = ReplyServer.defaultMaxConnections

    @Option(help: "TLS: PEM file of the cluster's certificate authority (scripts/make-certs); with it the address must be tls+tcp://.")
    public var tlsCa: String?

    @Option(help: "TLS: this node's certificate (PEM).")
    public var tlsCert: String?

    @Option(help: "TLS: this node's private key (PEM).")
    public var tlsKey: String?

    public init() {}
}

import ArgumentParser
import ClusterModel
import ProcessRuntime
import ServiceCommandLine
import ServiceSupport
import Transport
import WorkerService

@main
struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sightline-worker",
        abstract: "Serve one IVF-PQ shard over nng, stored durably in SQLite.",
        discussion: """
        Example: sightline-worker --listen tcp://127.0.0.1:7701 --data runs/worker-0 --cluster local --shard 0 --token-file token
        The worker waits for the coordinator to push the codebooks, then serves search, add, delete, \
        stats and health. It refuses a data directory of another cluster (exit 2). SIGINT/SIGTERM stop it cleanly.
        """)

    @Option(help: "Address to listen on: tcp://HOST:PORT or ipc:///path.")
    var listen: String

    @Option(help: "Data directory (created if missing): the shard's SQLite store.")
    var data: String

    @Option(help: "Cluster name; the data directory must belong to it.")
    var cluster: String

    @Option(help: "Shard id this worker holds.")
    var shard: UInt32

    @Option(help: "Cluster token (default: --token-file or $SIGHTLINE_TOKEN; empty disables the check, on loopback only).")
    var token: String?

    @Option(help: "File holding the cluster token.")
    var tokenFile: String?

    @Option(help: """
        Ids the replica log keeps for copies of this shard that catch up (default 1,000,000: about 8 MB). \
        A copy further behind gets a full copy.
        """)
    var replicaLogWindow: UInt64 = WorkerSettings.defaultReplicaLogWindowIDs

    @OptionGroup var service: ServiceOptions

    static func main() {
        BLASCoreType.reexecuteIfNeeded()
        WorkerCommand.main(nil)
    }

    func run() throws {
        let status = ServiceRunner.run(component: "worker \(shard)", threads: service.threads ?? 4,
                                       maxFrameBytes: service.maxFrameBytes, maxConnections: service.maxConnections) { log in
            let resolvedToken = try TokenSource.resolve(flag: token, file: tokenFile)
            guard !resolvedToken.isEmpty || isLoopbackAddress(listen) else {
                throw ConfigError.invalid("no token while \(listen) is reachable from other hosts: "
                    + "give --token-file (or listen on 127.0.0.1)")
            }
            var settings = WorkerSettings(cluster: cluster, shard: ShardID(shard), token: resolvedToken, dataDirectory: data)
            settings.maxFrameBytes = service.maxFrameBytes
            guard replicaLogWindow > 0 else { throw ConfigError.invalid("--replica-log-window must be at least 1") }
            settings.replicaLogWindowIDs = replicaLogWindow
            // One worker per data directory (and none while a backup is restored into it).
            let lock = try ProcessLock(directory: data, name: "worker", what: "worker")
            let worker = try Worker(settings: settings, log: log)
            // Only the coordinator, with a certificate of the cluster's CA, may talk to a worker.
            let tls = service.tlsCa.map {
                TLSSettings(certificateAuthorityFile: $0, certificateFile: service.tlsCert, keyFile: service.tlsKey,
                            requiresClientCertificate: true)
            }
            return ServiceLaunch(listen: listen, tls: tls, handler: { worker.handle($0) },
                                 summary: "data \(data)\(tls == nil ? "" : ", TLS")",
                                 beforeClosing: { withExtendedLifetime(lock) {} })
        }
        if status != 0 { throw ExitCode(status) }
    }
}

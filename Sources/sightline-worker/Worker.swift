import ArgumentParser
import ClusterClient
import ClusterModel
import Foundation
import ServiceSupport
import SightlineKit
import Transport
import Wire
import WorkerService

@main
struct Worker: ParsableCommand {
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

    @Option(help: "Cluster token (default: --token-file or $SIGHTLINE_TOKEN; empty disables the check).")
    var token: String?

    @Option(help: "File holding the cluster token.")
    var tokenFile: String?

    @Option(help: "Request threads (concurrent requests served).")
    var threads: Int = 4

    @Option(help: "Largest request accepted, in bytes; larger frames get a typed error.")
    var maxFrameBytes: Int = FrameLimits.maxFrameBytes

    static func main() {
        BLASCoreType.reexecuteIfNeeded()
        Worker.main(nil)
    }

    func run() throws {
        let log: @Sendable (String) -> Void = { [shard] in logLine("worker \(shard)", $0) }
        let service: WorkerService
        let server: ReplyServer
        do {
            var settings = WorkerSettings(cluster: cluster, shard: ShardID(shard), token: try TokenSource.resolve(flag: token, file: tokenFile), dataDirectory: data)
            settings.maxFrameBytes = maxFrameBytes
            service = try WorkerService(settings: settings, log: log)
            server = try ReplyServer(listen: listen, receiveLimit: maxFrameBytes + (1 << 20), workerCount: threads) { service.handle($0) }
        } catch {
            log("cannot start: \(error)")
            throw ExitCode(2)
        }
        server.start()
        log("listening on \(listen), data \(data)")
        waitForTerminationSignal()
        log("stopping")
        server.close()
    }
}

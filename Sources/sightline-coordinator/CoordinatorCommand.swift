import ArgumentParser
import ClusterModel
import CoordinatorService
import Datasets
import ErrorKinds
import Foundation
import HTTPGateway
import ImageEmbedding
import ProcessRuntime
import ServiceCommandLine
import ServiceSupport
import ShardStore
import Transport
import VectorIndex
import VectorMath
import Workflows

@main
struct CoordinatorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sightline-coordinator",
        abstract: "Own the catalog and codebooks, route writes to shards, fan searches out and merge them.",
        discussion: """
        Example: sightline-coordinator --config cluster/local.toml --codebooks runs/fmnist.trained.slix
        Codebooks come from --codebooks (a `sightline train` output), else from --train (trained at start), \
        else from the catalog of an earlier run. They are pushed to every worker that lacks them.
        """)

    @Option(help: "Cluster configuration (TOML): see cluster/local.toml.")
    var config: String

    @Option(help: "Trained, empty index file (from `sightline train`) to use as the codebooks.")
    var codebooks: String?

    @Option(help: "Dataset to train codebooks from at start (name, spec or path) when none are given or stored.")
    var train: String?

    @Option(help: "k-means iterations when training with --train.")
    var iterations: Int = 25

    @OptionGroup var service: ServiceOptions

    static func main() {
        BLASCoreType.reexecuteIfNeeded()
        CoordinatorCommand.main(nil)
    }

    func run() throws {
        let status = ServiceRunner.run(component: "coordinator", threads: service.threads ?? 8,
                                       maxFrameBytes: service.maxFrameBytes, maxConnections: service.maxConnections) { log in
            let clusterConfig = try ClusterConfig(parsing: try String(contentsOfFile: config, encoding: .utf8))
            // One coordinator per catalog: two would route by maps that drift apart.
            let lock = try ProcessLock(directory: clusterConfig.dataDirectory, name: "coordinator", what: "coordinator")
            let catalog = try CatalogDatabase(directory: clusterConfig.dataDirectory, cluster: clusterConfig.cluster)
            let codebookFile = try loadCodebooks(clusterConfig, catalog: catalog, log: log)
            // [tls]: clients reach the coordinator over TLS, and it presents its certificate to the workers.
            let tls = clusterConfig.tls.map {
                TLSSettings(certificateAuthorityFile: $0.certificateAuthority, certificateFile: $0.certificate, keyFile: $0.key,
                            serverName: $0.serverName)
            }
            let thumbnails = try ThumbnailStore(directory: clusterConfig.dataDirectory, cluster: clusterConfig.cluster)
            let coordinator = try Coordinator(config: clusterConfig, catalog: catalog, codebookFile: codebookFile,
                                              maxFrameBytes: service.maxFrameBytes, thumbnails: thumbnails,
                                              hooks: Self.testHooks(log: log),
                                              dial: { try NNGConnection(dial: $0, tls: tls) }, log: log)
            let http = try clusterConfig.http.map { try startHTTP($0, config: clusterConfig, coordinator: coordinator, log: log) }
            return ServiceLaunch(
                listen: clusterConfig.listen, tls: tls, handler: { coordinator.handle($0) },
                summary: "cluster \(clusterConfig.cluster), \(clusterConfig.primaryWorkers.count) shards"
                    + (clusterConfig.replication > 1 ? ", replication \(clusterConfig.replication)" : ""),
                beforeServing: {
                    coordinator.checkWorkers()
                    coordinator.startHealthLoop()
                },
                beforeClosing: {
                    http?.close()
                    withExtendedLifetime(lock) { coordinator.stop() }
                })
        }
        if status != 0 { throw ExitCode(status) }
    }

    /// Real-process tests reach into a running coordinator through the environment only:
    /// `SIGHTLINE_TEST_MOVE_STEP_PAUSE_MS` pauses each move step that long (to search, write or
    /// kill at a chosen step). It is named in the log when set; nothing in service sets it.
    static func testHooks(log: @Sendable (String) -> Void) -> CoordinatorHooks {
        guard let text = ProcessInfo.processInfo.environment["SIGHTLINE_TEST_MOVE_STEP_PAUSE_MS"],
              let milliseconds = Int(text), (1 ... 600_000).contains(milliseconds) else { return CoordinatorHooks() }
        log("test hook: each move step pauses \(milliseconds) ms (SIGHTLINE_TEST_MOVE_STEP_PAUSE_MS)")
        return CoordinatorHooks(enteringMoveStep: { _ in Thread.sleep(forTimeInterval: Double(milliseconds) / 1000) })
    }

    /// The HTTP/JSON API and web page beside the nng endpoint (`[http]` in the config).
    func startHTTP(_ settings: HTTPSettings, config: ClusterConfig, coordinator: Coordinator,
                   log: @escaping @Sendable (String) -> Void) throws -> HTTPServer {
        try reserveFileDescriptors(httpConnections: settings.maxConnections)
        let embedder = try settings.descriptorModel.map { try ImageEmbedder(spec: $0, dimension: config.index.dimension) }
        var files: [(path: String, file: String)] = []
        var openAPI: [UInt8]?
        if let root = settings.webRoot {
            guard FileManager.default.fileExists(atPath: root + "/index.html") else {
                throw SightlineError.badInput("[http] web_root = \(root) holds no index.html (the repository's is cluster/web)")
            }
            let names = (try? FileManager.default.contentsOfDirectory(atPath: root))?.sorted() ?? []
            for name in names where [".html", ".js", ".css", ".png", ".svg"].contains(where: name.hasSuffix) {
                files.append(("/" + name, root + "/" + name))
            }
            files.append(("/", root + "/index.html"))
            openAPI = try? FileBytes.read(root + "/openapi.json")
        }
        let backend = GatewayBackend(
            handle: { coordinator.handle($0) }, items: { coordinator.items($0) },
            thumbnail: { (try? coordinator.thumbnails?.image(of: $0)) ?? nil },
            sample: { (try? coordinator.thumbnails?.sampleIDs(count: $0)) ?? [] },
            metrics: { coordinator.metricsText() }, health: { coordinator.shardHealth() })
        let gateway = Gateway(backend: backend, embedder: embedder, dimension: config.index.dimension, openAPI: openAPI)
        let limits = HTTPLimits(maxConnections: settings.maxConnections, maxConnectionsPerAddress: settings.maxConnectionsPerAddress,
                                headerTimeoutSeconds: Double(settings.headerTimeoutSeconds),
                                idleTimeoutSeconds: Double(settings.idleTimeoutSeconds))
        let server = try HTTPServer(listen: settings.listen, tokens: config.accessTokens, maxBodyBytes: settings.maxBodyBytes,
                                    limits: limits, tls: settings.tls ? config.tls.map { ($0.certificate, $0.key) } : nil,
                                    routes: gateway.routes, files: files) { route, status, seconds in
            coordinator.metrics.count("sightline_http_requests_total", help: "HTTP API requests, by route and status.",
                                      labels: [("route", route), ("status", "\(status)")])
            coordinator.metrics.observe("sightline_http_request_seconds", help: "Time the HTTP API took to answer, by route.",
                                        labels: [("route", route)], seconds: seconds)
        }
        log("HTTP API on \(settings.listen)" + (settings.webRoot == nil ? "" : ", web page at \(settings.listen)/")
            + (embedder.map { ", images embedded as \($0.summary)" } ?? ", no descriptor model (image routes answer 400)"))
        return server
    }

    /// Every HTTP connection is a file descriptor of this process, whose nng links to workers and
    /// clients need their own: raise the soft limit to the hard one, and refuse to start when
    /// `max_connections` would leave fewer than 1,024 for the rest.
    func reserveFileDescriptors(httpConnections: Int) throws {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        let needed = rlim_t(httpConnections + 1024)
        guard limit.rlim_cur >= needed else {
            throw SightlineError.badInput("[http] max_connections = \(httpConnections) needs \(needed) open files, "
                                          + "but this process may open \(limit.rlim_cur) (ulimit -n): "
                                          + "raise the limit or lower max_connections")
        }
    }

    func loadCodebooks(_ config: ClusterConfig, catalog: CatalogDatabase, log: @Sendable (String) -> Void) throws -> [UInt8] {
        if let codebooks { return try FileBytes.read(codebooks) }
        if let stored = try catalog.latestCodebook() { return stored.indexFile }
        guard let train else {
            throw SightlineError.badInput("no codebooks: pass --codebooks FILE (from `sightline train`) or --train DATASET")
        }
        log("training codebooks on \(train)")
        let dataset = try DatasetCatalog.load(train)
        var settings = IVFPQTraining()
        settings.iterations = iterations
        settings.threads = resolvedThreadCount(0)
        let configuration = IVFPQConfiguration(
            dimension: config.index.dimension, listCount: config.index.nlist, subquantizerCount: config.index.m,
            metric: config.index.metric == "ip" ? .innerProduct : .l2, storesVectors: config.index.storesVectors,
            bitsPerCode: config.index.pqBits, usesOPQ: config.index.opq)
        let index = try IndexPipeline.train(dataset.train, configuration: configuration, settings: settings, progress: ProgressReporter())
        return IndexFile.encode(index)
    }
}

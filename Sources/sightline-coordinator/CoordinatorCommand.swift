import ArgumentParser
import ClusterModel
import CoordinatorService
import Datasets
import ErrorKinds
import Foundation
import ProcessRuntime
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

    @Option(help: "Pause this many milliseconds at each step of a move (to watch or test a move step by step; 0 in production).")
    var moveStepPauseMs: Int = 0

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
            let coordinator = try Coordinator(config: clusterConfig, catalog: catalog, codebookFile: codebookFile,
                                              maxFrameBytes: service.maxFrameBytes, moveStepPauseMilliseconds: moveStepPauseMs,
                                              dial: { try NNGConnection(dial: $0, tls: tls) }, log: log)
            return ServiceLaunch(
                listen: clusterConfig.listen, tls: tls, handler: { coordinator.handle($0) },
                summary: "cluster \(clusterConfig.cluster), \(clusterConfig.primaryWorkers.count) shards"
                    + (clusterConfig.replication > 1 ? ", replication \(clusterConfig.replication)" : ""),
                beforeServing: {
                    coordinator.checkWorkers()
                    coordinator.startHealthLoop()
                },
                beforeClosing: { withExtendedLifetime(lock) { coordinator.stop() } })
        }
        if status != 0 { throw ExitCode(status) }
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
            metric: config.index.metric == "ip" ? .innerProduct : .l2, storesVectors: config.index.storesVectors)
        let index = try IndexPipeline.train(dataset.train, configuration: configuration, settings: settings, progress: ProgressReporter())
        return IndexFile.encode(index)
    }
}

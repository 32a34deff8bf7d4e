import ArgumentParser
import ClusterModel
import CoordinatorService
import Datasets
import Foundation
import ServiceSupport
import ShardStore
import SightlineKit
import Transport
import VectorIndex
import VectorMath
import Wire

@main
struct Coordinator: ParsableCommand {
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

    @Option(help: "Request threads (concurrent client requests).")
    var threads: Int = 8

    @Option(help: "Largest request accepted, in bytes; larger frames get a typed error.")
    var maxFrameBytes: Int = FrameLimits.maxFrameBytes

    static func main() {
        BLASCoreType.reexecuteIfNeeded()
        Coordinator.main(nil)
    }

    func run() throws {
        let log: @Sendable (String) -> Void = { logLine("coordinator", $0) }
        let service: CoordinatorService
        let server: ReplyServer
        do {
            let text = try String(contentsOfFile: config, encoding: .utf8)
            let clusterConfig = try ClusterConfig(parsing: text)
            let catalog = try CatalogDatabase(directory: clusterConfig.dataDirectory, cluster: clusterConfig.cluster)
            let codebookFile = try loadCodebooks(clusterConfig, catalog: catalog, log: log)
            service = try CoordinatorService(config: clusterConfig, catalog: catalog, codebookFile: codebookFile, maxFrameBytes: maxFrameBytes, log: log)
            server = try ReplyServer(listen: clusterConfig.listen, receiveLimit: maxFrameBytes + (1 << 20), workerCount: threads) { service.handle($0) }
        } catch {
            log("cannot start: \(error)")
            throw ExitCode(2)
        }
        service.checkWorkers()
        service.startHealthLoop()
        server.start()
        log("listening on \(service.config.listen) for cluster \(service.config.cluster), \(service.config.workers.count) shards")
        waitForTerminationSignal()
        log("stopping")
        service.stop()
        server.close()
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
        let index = try Workflows.train(dataset.train, configuration: configuration, settings: settings, progress: ProgressReporter())
        return IndexFile.encode(index)
    }
}

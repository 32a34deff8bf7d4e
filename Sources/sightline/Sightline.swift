import ArgumentParser
import ErrorKinds
import ProcessRuntime
import Workflows

@main
struct Sightline: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sightline",
        abstract: "Sightline: train, build, search and benchmark IVF-PQ image-descriptor indexes.",
        discussion: """
        Datasets are given by name ("fashion-mnist"), by synthetic spec \
        ("synthetic:n=100000,q=1000,d=128,classes=1000,seed=7" or "synthetic:gldv2") or by path \
        (.fvecs, .bvecs, .npy, gzip'd IDX). Errors in the input exit with status 2.
        """,
        subcommands: [
            TrainCommand.self, BuildCommand.self, SearchCommand.self, GroundTruthCommand.self,
            BenchCommand.self, ExportCommand.self,
            IngestCommand.self, QueryCommand.self, StatsCommand.self, BenchClusterCommand.self,
            TrainDescriptorCommand.self, EvalDescriptorCommand.self, EmbedCommand.self,
            VerifyCommand.self, IdentifyCommand.self, CalibrateCommand.self,
            DedupCommand.self, DedupEvalCommand.self, ClusterCommand.self, ConfigCommand.self,
        ])

    static func main() {
        BLASCoreType.reexecuteIfNeeded()
        Sightline.main(nil)
    }
}

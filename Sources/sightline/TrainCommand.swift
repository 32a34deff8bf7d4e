import ArgumentParser
import Datasets
import ErrorKinds
import Foundation
import ProcessRuntime
import VectorMath
import Workflows

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train IVF-PQ codebooks (coarse centroids + product quantizer) into an empty index file.",
        discussion: "Example: sightline train --dataset fashion-mnist --nlist 256 --m 16 --out fmnist.trained.slix")

    @OptionGroup var data: DatasetOptions
    @OptionGroup var shape: IndexShapeOptions

    @Option(help: "Threads (0 = all cores).")
    var threads: Int = 0

    @Option(help: "Output index file (holds codebooks, no vectors).")
    var out: String

    func run() throws {
        try reportingErrors {
            let progress = ProgressReporter()
            let dataset = try data.load()
            let configuration = try shape.configuration(dimension: dataset.train.dimension)
            let (index, seconds) = try measureSeconds {
                try IndexPipeline.train(dataset.train, configuration: configuration, settings: shape.training(threads: threads),
                                        progress: progress)
            }
            try IndexStorage.save(index, to: out)
            printLine("trained nlist=\(configuration.listCount) m=\(configuration.subquantizerCount) d=\(configuration.dimension) "
                      + "on \(dataset.train.rowCount) vectors in \(String(format: "%.2f", seconds)) s -> \(out)")
        }
    }
}

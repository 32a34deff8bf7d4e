import ArgumentParser
import Datasets
import ErrorKinds
import Foundation
import ProcessRuntime
import VectorMath
import Workflows

struct BuildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Encode a base set into a trained index; ids are row numbers starting at --first-id.",
        discussion: "Example: sightline build --index fmnist.trained.slix --dataset fashion-mnist --out fmnist.slix")

    @Option(help: "Trained index file (from `sightline train`).")
    var index: String

    @OptionGroup var data: DatasetOptions

    @Option(help: "Id of the first vector; the others follow in order.")
    var firstId: UInt64 = 0

    @Option(help: "Threads (0 = all cores).")
    var threads: Int = 0

    @Option(help: "Output index file.")
    var out: String

    func run() throws {
        try reportingErrors {
            var trained = try IndexStorage.load(index)
            let base = try data.load().base
            let (_, seconds) = try measureSeconds {
                try IndexPipeline.build(&trained, vectors: base, firstID: firstId, threads: threads, progress: ProgressReporter())
            }
            try IndexStorage.save(trained, to: out)
            let usage = trained.memoryUsage
            printLine("built \(trained.count) vectors in \(String(format: "%.2f", seconds)) s: "
                      + "\(usage.perVectorBytes + usage.fixedBytes) bytes in memory -> \(out)")
        }
    }
}

import ArgumentParser
import Datasets
import ErrorKinds
import Foundation
import ProcessRuntime
import Workflows

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a dataset's base, query and training sets as .fvecs (and labels), e.g. for other tools.",
        discussion: """
        Example: sightline export --dataset fashion-mnist --out-dir data/fmnist
        Synthetic sets stream in chunks, so the GLDv2 shape (synthetic:gldv2) never sits in memory whole.
        """)

    @Option(help: "fashion-mnist, synthetic:KEY=VALUE,… or synthetic:gldv2.")
    var dataset: String

    @Option(help: "Output folder (created if missing): base.fvecs, query.fvecs, train.fvecs and .labels files.")
    var outDir: String

    @Option(help: "Rows generated per chunk for synthetic sets.")
    var chunk: Int = 100_000

    @Option(help: "Threads (0 = all cores).")
    var threads: Int = 0

    func run() throws {
        try reportingErrors {
            try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
            if dataset.hasPrefix("synthetic") {
                let generator = try DatasetCatalog.parseSynthetic(dataset)
                guard chunk > 0 else { throw SightlineError.badInput("--chunk must be positive") }
                let splits: [(SyntheticLandmarks.Split, String)] = [(.index, "base"), (.query, "query"), (.train, "train")]
                let progress = ProgressReporter()
                for (split, name) in splits where generator.count(of: split) > 0 {
                    try SyntheticExport.write(generator, split: split, to: "\(outDir)/\(name)", chunk: chunk, threads: threads) {
                        progress.report("generate \(split)", $0, $1)
                    }
                }
            } else {
                let loaded = try DatasetCatalog.load(dataset)
                try VectorFiles.write(loaded.base, to: "\(outDir)/base.fvecs")
                try VectorFiles.write(loaded.queries, to: "\(outDir)/query.fvecs")
                if let labels = loaded.baseLabels { try VectorFiles.writeLabels(labels, to: "\(outDir)/base.labels") }
                if let labels = loaded.queryLabels { try VectorFiles.writeLabels(labels, to: "\(outDir)/query.labels") }
            }
            printLine("exported \(dataset) -> \(outDir)")
        }
    }
}

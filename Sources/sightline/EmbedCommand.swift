import ArgumentParser
import Datasets
import Descriptors
import ErrorKinds
import Foundation
import ProcessRuntime
import VectorMath
import Workflows

struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Turn images into descriptors with a trained model, written as .fvecs (labels kept in NAME.labels).",
        discussion: """
        Example: sightline embed --model runs/arcface.sldm --input /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz --out q.fvecs
        Inputs: gzip'd IDX image files (labels from the matching -labels-idx1-ubyte.gz), fashion-mnist \
        (its training images), or PNG or JPEG images of any size and colour (converted to grey and fitted to the model's input) \
        or binary PGM (P5) of its size (one or more paths, \
        comma-separated).
        """)

    @Option(help: "Model file from train-descriptor.")
    var model: String

    @Option(help: "Images: an IDX file, fashion-mnist, or comma-separated .png / .jpg / .pgm files.")
    var input: String

    @Option(help: "Output .fvecs (or .npy) file; the ingest and build commands take it directly.")
    var out: String

    func run() throws {
        try reportingErrors {
            let network = try ModelFile.decode(try FileBytes.read(model))
            var labels: [Int32]?
            let images: Matrix
            if input == "fashion-mnist" {
                let data = try DatasetCatalog.load(input)
                images = data.base
                labels = data.baseLabels
            } else if input.contains("idx3-ubyte") {
                images = try IDXFormat.readImages(input)
                let labelPath = input.replacingOccurrences(of: "images-idx3", with: "labels-idx1")
                if FileManager.default.fileExists(atPath: labelPath) { labels = try IDXFormat.readLabels(labelPath) }
            } else {
                images = try readImageFiles(input.split(separator: ",").map(String.init), for: network)
            }
            let descriptors = try network.embed(images)
            try VectorFiles.write(descriptors, to: out)
            if let labels { try VectorFiles.writeLabels(labels, to: (out as NSString).deletingPathExtension + ".labels") }
            printLine("embedded \(descriptors.rowCount) images into \(descriptors.dimension)-d descriptors -> \(out)"
                      + "\(labels == nil ? "" : " (+ labels)")")
        }
    }
}

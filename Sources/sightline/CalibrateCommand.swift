import ArgumentParser
import Datasets
import Descriptors
import ErrorKinds
import Foundation
import ProcessRuntime
import VectorMath
import Workflows

struct CalibrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Calibrate a model's verification and identification thresholds on labelled training images and store them in the model.",
        discussion: """
        Example: sightline calibrate --model runs/arcface.sldm
        train-descriptor already does this; use it for a model trained elsewhere or on other data. \
        Verification: best balanced accuracy on 100,000 same-label and 100,000 different-label pairs. \
        Identification: best (identification rate + 1 − false-accept rate) / 2 when 5,000 images probe \
        a gallery of the others without the last 30 % of the classes. Up to 100,000 images are used. \
        The model file is rewritten atomically.
        """)

    @Option(help: "Model file to calibrate (rewritten in place).")
    var model: String

    @Option(help: "Labelled images: fashion-mnist (its training split) or a vector file with NAME.labels.")
    var dataset: String = "fashion-mnist"

    func run() throws {
        try reportingErrors {
            let network = try ModelFile.decode(try FileBytes.read(model))
            let data = try DatasetCatalog.load(dataset)
            guard let labels = data.baseLabels else {
                throw SightlineError.badInput("\(dataset) has no labels: put them in NAME.labels beside the vectors")
            }
            (network.verificationThreshold, network.identificationThreshold) =
                try DescriptorCalibration.calibrate(network, images: data.base, labels: labels)
            try FileBytes.writeAtomically(ModelFile.encode(network), to: model)
            printLine(String(format: "%@: verification threshold %.4f, identification threshold %.4f", model,
                             network.verificationThreshold ?? .nan, network.identificationThreshold ?? .nan))
        }
    }
}

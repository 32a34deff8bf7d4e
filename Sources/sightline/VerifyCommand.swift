import ArgumentParser
import Datasets
import Descriptors
import ErrorKinds
import Foundation
import ProcessRuntime
import VectorMath
import Workflows

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Are two images the same thing? Prints their descriptor distance and same/different.",
        discussion: """
        Example: sightline verify --model runs/arcface.sldm shoe1.png shoe2.png
        The distance is the squared L2 distance between the two unit-length descriptors (0 to 4). The \
        threshold is the one train-descriptor calibrated on training pairs and stored in the model; \
        --threshold overrides it. Images: .png or .jpg of any size and colour (converted to grey and fitted to the model's input), \
        or .pgm of its size.
        """)

    @Option(help: "Model file from train-descriptor.")
    var model: String

    @Option(help: "Decision threshold (default: the model's calibrated one).")
    var threshold: Float?

    @Flag(help: "One JSON object.")
    var json = false

    @Argument(help: "The first image.")
    var first: String

    @Argument(help: "The second image.")
    var second: String

    func run() throws {
        try reportingErrors {
            let network = try ModelFile.decode(try FileBytes.read(model))
            let limit = try decisionThreshold(threshold, stored: network.verificationThreshold, kind: "verification", model: model)
            let descriptors = try network.embed(try readImageFiles([first, second], for: network))
            let distance = descriptors.withUnsafeBufferPointer {
                squaredL2($0.baseAddress!, $0.baseAddress! + descriptors.dimension, descriptors.dimension)
            }
            let same = distance <= limit
            if json {
                try printJSON(VerifyResult(distance: distance, threshold: limit, same: same))
            } else {
                printLine(String(format: "distance %.4f %@ threshold %.4f: %@", distance, same ? "≤" : ">", limit,
                                 same ? "same" : "different"))
            }
        }
    }
}

/// `sightline verify --json`.
struct VerifyResult: Encodable {
    var distance: Float
    var threshold: Float
    var same: Bool
}

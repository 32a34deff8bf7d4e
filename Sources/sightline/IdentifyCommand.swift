import ArgumentParser
import ClusterClient
import Datasets
import Descriptors
import SightlineKit
import VectorMath
import Wire

struct IdentifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "identify",
        abstract: "Is the thing in this image in the collection, and which? Embeds the image and asks the cluster.",
        discussion: """
        Example: sightline identify --token-file runs/descriptors-cluster/token --coordinator tcp://127.0.0.1:7720 \\
          --model runs/descriptors/arcface.sldm bag.png
        Answers with the nearest stored item (id, label, key) when its squared L2 distance is within the \\
        threshold, else "not in the collection". The default threshold is the model's calibrated \\
        verification threshold (accept when the nearest item would verify as the same thing); \\
        `sightline eval-descriptor` reports the open-set identification and false-accept rates it gives.
        """)

    @OptionGroup var target: CoordinatorOptions

    @Option(help: "Model file from train-descriptor (the collection must hold its descriptors).")
    var model: String

    @Option(help: "Acceptance threshold (default: the model's calibrated identification threshold).")
    var threshold: Float?

    @Option(help: "Lists probed per shard (0 = the cluster's default).")
    var nprobe: Int = 0

    @Option(help: "Deadline in milliseconds.")
    var deadlineMs: Int = 2000

    @Flag(help: "One JSON object.")
    var json = false

    @Argument(help: "The query image (.png or .pgm).")
    var image: String

    func run() throws {
        try reportingErrors {
            let network = try ModelFile.decode(try FileBytes.read(model))
            let limit = try decisionThreshold(threshold, stored: network.identificationThreshold, kind: "identification", model: model)
            let descriptor = try network.embed(try readImageFiles([image], for: network))
            let client = try target.client()
            let response = try clusterCall {
                try client.call(.identify(vector: descriptor.values, threshold: limit, nprobe: nprobe), deadlineMilliseconds: deadlineMs)
            }
            guard case .identify(let reply) = response else { throw SightlineError.badInput("the coordinator answered something other than identify") }
            if json {
                printLine("{\"found\": \(reply.found), \"id\": \(reply.found ? String(reply.id) : "null"), \"label\": \(reply.label.map(String.init) ?? "null"), "
                    + "\"key\": \"\(reply.key)\", \"distance\": \(reply.distance), \"threshold\": \(limit), \"partial\": \(reply.partial)}")
            } else if reply.found {
                printLine(String(format: "identified: id %llu%@%@, distance %.4f ≤ threshold %.4f", reply.id,
                                 reply.label.map { ", label \($0)" } ?? "", reply.key.isEmpty ? "" : ", key \(reply.key)", reply.distance, limit))
            } else {
                printLine(String(format: "not in the collection: nearest distance %.4f > threshold %.4f", reply.distance, limit))
            }
            if reply.partial, !json { printLine("partial answer: some shards did not answer in time") }
        }
    }
}

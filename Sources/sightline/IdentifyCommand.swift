import ArgumentParser
import ClusterClient
import Datasets
import Descriptors
import ErrorKinds
import Foundation
import VectorMath
import Wire

struct IdentifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "identify",
        abstract: "Is the thing in this image in the collection, and which? Embeds the image and asks the cluster.",
        discussion: """
        Example: sightline identify --token-file runs/descriptors-cluster/token --coordinator tcp://127.0.0.1:7720 \\
          --model runs/descriptors/arcface.sldm bag.png
        Answers with the nearest stored item (id, label, key) when its squared L2 distance is within the \
        threshold, else "not in the collection". The default threshold is the model's calibrated \
        verification threshold (accept when the nearest item would verify as the same thing); \
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

    @Argument(help: "The query image: .png or .jpg of any size and colour, or .pgm of the model's size.")
    var image: String

    func run() throws {
        try reportingErrors {
            let network = try ModelFile.decode(try FileBytes.read(model))
            let limit = try decisionThreshold(threshold, stored: network.identificationThreshold, kind: "identification", model: model)
            let descriptor = try network.embed(try readImageFiles([image], for: network))
            let client = try target.client()
            let response = try client.call(.identify(vector: descriptor.values, threshold: limit, nprobe: nprobe),
                                           deadlineMilliseconds: deadlineMs)
            guard case .identify(let reply) = response else {
                throw SightlineError.internalError("the coordinator answered something other than identify")
            }
            if json {
                try printJSON(IdentifyResult(reply, threshold: limit))
            } else if reply.found {
                printLine(String(format: "identified: id %llu%@%@, distance %.4f ≤ threshold %.4f", reply.id,
                                 reply.label.map { ", label \($0)" } ?? "", reply.key.isEmpty ? "" : ", key \(reply.key)",
                                 reply.distance, limit))
            } else {
                printLine(String(format: "not in the collection: nearest distance %.4f > threshold %.4f", reply.distance, limit))
            }
            if reply.partial, !json { printLine("partial answer: some shards did not answer in time") }
        }
    }
}

/// `sightline identify --json`: id and label are null when nothing is within the threshold.
struct IdentifyResult: Encodable {
    var found: Bool
    var id: UInt64?
    var label: Int32?
    var key: String
    var distance: Float
    var threshold: Float
    var partial: Bool

    init(_ reply: IdentifyReply, threshold: Float) {
        found = reply.found
        id = reply.found ? reply.id : nil
        label = reply.label
        key = reply.key
        distance = reply.distance
        self.threshold = threshold
        partial = reply.partial
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(found, forKey: .found)
        try container.encode(id, forKey: .id)
        try container.encode(label, forKey: .label)
        try container.encode(key, forKey: .key)
        try container.encode(distance, forKey: .distance)
        try container.encode(threshold, forKey: .threshold)
        try container.encode(partial, forKey: .partial)
    }

    enum CodingKeys: String, CodingKey { case found, id, label, key, distance, threshold, partial }
}

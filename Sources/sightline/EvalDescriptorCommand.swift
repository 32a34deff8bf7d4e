import ArgumentParser
import Datasets
import Descriptors
import ErrorKinds
import Foundation
import ProcessRuntime
import RetrievalEval
import VectorMath
import Workflows

struct EvalDescriptorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval-descriptor",
        abstract: "Retrieval, verification and open-set identification quality of descriptors on Fashion-MNIST.",
        discussion: """
        Example: sightline eval-descriptor --model runs/arcface.sldm   (or --raw, or --pca 128)
        Retrieval: each test image queries the other 9,999 (exact search): Recall@1/2/4/8 and mAP.
        Verification: the threshold calibrated on training pairs (the model's own when it has one), then \
        balanced accuracy on 50,000 positive + 1,000,000 negative test pairs, and TAR at FAR = 1e-3.
        Open-set identification: the gallery is the training split without the --holdout classes; every \
        test image probes it; the threshold is the model's identification threshold, or calibrated now on \
        training probes with the same classes held out. Reports the identification rate (right identity, \
        accepted) and the false-accept rate (held-out class accepted).
        """)

    @Option(help: "Model file from train-descriptor.")
    var model: String?

    @Flag(help: "Evaluate raw pixels instead of a model.")
    var raw = false

    @Option(help: "Evaluate raw pixels projected on their first N principal components (fitted on the training split).")
    var pca: Int?

    @Option(help: "Labelled data: training split calibrates and forms the gallery, the test split is evaluated.")
    var dataset: String = "fashion-mnist"

    @Option(help: "Classes left out of the open-set gallery, comma-separated.")
    var holdout: String = "7,8,9"

    @Flag(help: "Retrieval figures only (skips embedding the training split).")
    var retrievalOnly = false

    @Flag(help: "One JSON object.")
    var json = false

    func run() throws {
        try reportingErrors {
            let data = try DatasetCatalog.load(dataset)
            guard let labels = data.queryLabels, let trainLabels = data.baseLabels else {
                throw SightlineError.badInput("\(dataset) has no labels")
            }
            let heldOut = Set(try parseIntegerList(holdout, name: "holdout").map(Int32.init))
            guard !Set(trainLabels).subtracting(heldOut).isEmpty, !heldOut.isDisjoint(with: Set(trainLabels)) else {
                throw SightlineError.badInput("--holdout \(holdout) must leave some classes in the gallery "
                                              + "and hold out at least one of them")
            }
            let progress = ProgressReporter()
            let describe: (Matrix) throws -> Matrix
            var storedThreshold: Float?, storedIdentification: Float?
            if let pca {
                let projection = try PCA(fitting: data.base, count: pca)
                describe = { try projection.project($0) }
            } else if raw {
                describe = { $0 }
            } else {
                guard let model else { throw SightlineError.badInput("give --model FILE, --raw or --pca N") }
                let network = try ModelFile.decode(try FileBytes.read(model))
                network.threads = resolvedThreadCount(0)
                storedThreshold = network.verificationThreshold
                storedIdentification = network.identificationThreshold
                describe = { try network.embed($0) }
            }
            let descriptors = try describe(data.queries)
            let quality = evaluateRetrieval(descriptors, labels: labels) { done, total in
                progress.report("evaluate retrieval", done, total)
            }
            let name = pca.map { "PCA-\($0)" } ?? (raw ? "raw pixels" : model!)
            var fields: [(String, Double)] = [("recall_at_1", quality.recall[1]!), ("recall_at_2", quality.recall[2]!),
                                              ("recall_at_4", quality.recall[4]!),
                                              ("recall_at_8", quality.recall[8]!), ("map", quality.meanAveragePrecision)]
            var lines = [String(format: "%@ (d=%d): Recall@1 %.4f  @2 %.4f  @4 %.4f  @8 %.4f  mAP %.4f", name, descriptors.dimension,
                                quality.recall[1]!, quality.recall[2]!, quality.recall[4]!, quality.recall[8]!,
                                quality.meanAveragePrecision)]
            if !retrievalOnly {
                progress.note("embedding the training split for calibration and the open-set gallery")
                let train = try describe(data.base)
                let threshold = storedThreshold ?? DescriptorTasks.calibrateVerification(train, labels: trainLabels)
                let testPairs = DescriptorTasks.samplePairs(descriptors, labels: labels, positives: 50_000, negatives: 1_000_000, seed: 17)
                let accuracy = Verification.balancedAccuracy(testPairs, threshold: threshold)
                let (tar, tarThreshold) = Verification.trueAcceptRate(testPairs, atFalseAcceptRate: 1e-3)
                let openThreshold = try storedIdentification
                    ?? DescriptorTasks.calibrateOpenSet(train, labels: trainLabels, holdingOut: heldOut)
                let (gallery, galleryLabels) = DescriptorTasks.gallery(train, labels: trainLabels, holdingOut: heldOut)
                let probes = try DescriptorTasks.openSetProbes(gallery: gallery, galleryLabels: galleryLabels,
                                                               probes: descriptors, probeLabels: labels)
                let (identified, falseAccepts) = OpenSetIdentification.rates(probes, threshold: openThreshold)
                let (identifiedAt1, _) = OpenSetIdentification.identificationRate(probes, atFalseAcceptRate: 0.01)
                let (identifiedAt10, _) = OpenSetIdentification.identificationRate(probes, atFalseAcceptRate: 0.1)
                fields += [("verification_threshold", Double(threshold)), ("verification_accuracy", accuracy), ("tar_at_far_1e-3", tar),
                           ("tar_threshold", Double(tarThreshold)), ("open_set_threshold", Double(openThreshold)),
                           ("open_set_identification_rate", identified), ("open_set_false_accept_rate", falseAccepts),
                           ("identification_at_far_0.01", identifiedAt1), ("identification_at_far_0.1", identifiedAt10)]
                lines.append(String(format: "verification: threshold %.4f (%@), test-pair accuracy %.4f, TAR@FAR=1e-3 %.4f",
                                    threshold, storedThreshold == nil ? "calibrated now on training pairs" : "the model's", accuracy, tar))
                lines.append(String(format: "open-set identification (classes %@ held out of the gallery): threshold %.4f (%@), "
                                    + "identification rate %.4f, false-accept rate %.4f; "
                                    + "identification at FAR 0.01: %.4f, at 0.1: %.4f",
                                    holdout, openThreshold,
                                    storedIdentification == nil ? "calibrated now on training probes" : "the model's",
                                    identified, falseAccepts, identifiedAt1, identifiedAt10))
            }
            if json {
                var object = Dictionary(uniqueKeysWithValues: fields.map { ($0.0, JSONScalar.number($0.1)) })
                object["descriptor"] = .text(name)
                object["dim"] = .integer(descriptors.dimension)
                try printJSON(object)
            } else {
                lines.forEach(printLine)
            }
        }
    }
}

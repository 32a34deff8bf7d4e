import ArgumentParser
import Datasets
import Descriptors
import ErrorKinds
import Foundation
import ProcessRuntime
import VectorMath
import Workflows

struct TrainDescriptorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-descriptor",
        abstract: "Train an embedding network (conv blocks → MLP → L2-normalised descriptor) with a metric-learning loss.",
        discussion: "Example: sightline train-descriptor --dataset fashion-mnist --loss arcface --dim 128 --epochs 10 "
                    + "--out runs/arcface.sldm")

    @Option(help: "Labelled training images: fashion-mnist (its 60,000 training images) or a vector file with NAME.labels.")
    var dataset: String = "fashion-mnist"

    @Option(help: "Loss: contrastive, triplet, center, sphereface, cosface, arcface.")
    var loss: String = "arcface"

    @Option(help: "Descriptor dimension d.")
    var dim: Int = 128

    @Option(help: """
        Channels of the 3×3 conv + 2×2 max-pool blocks, comma-separated, or \"none\" for a plain MLP \
        (square grey images only).
        """)
    var conv: String = "32,64"

    @Option(help: "Hidden layer widths, comma-separated (default 256 after conv blocks, 1024,512 for a plain MLP).")
    var hidden: String?

    @Option(help: "Epochs (10 with the default conv network: about 10 minutes on 2 cores).")
    var epochs: Int = 10

    @Option(help: "Images per batch (classification-style losses).")
    var batchSize: Int = 256

    @Option(help: "Peak learning rate.")
    var lr: Float = 1e-3

    @Option(help: "Optimiser: adam or sgd.")
    var optimizer: String = "adam"

    @Option(help: "Triplet mining: batch-hard or semi-hard.")
    var mining: String = "batch-hard"

    @Flag(help: "Augment with random shifts (±2 px) and pixel noise.")
    var augment = false

    @Flag(help: """
        Instance-level descriptors for near-duplicate search: each image is its own class, seen as two edited views \
        (shift, crop, noise). Use with --loss triplet or contrastive.
        """)
    var instances = false

    @Option(help: "Seed.")
    var seed: UInt64 = 7

    @Option(help: "Threads (0 = all cores).")
    var threads: Int = 0

    @Option(help: "Train on the first N images only (quick trials).")
    var limit: Int?

    @Option(help: "Output model file.")
    var out: String

    func run() throws {
        try reportingErrors {
            guard let kind = LossKind(rawValue: loss) else { throw DescriptorError.unknownLoss(loss) }
            guard let optimizerKind = OptimizerKind(rawValue: optimizer) else {
                throw SightlineError.badInput("unknown optimiser \"\(optimizer)\": use adam or sgd")
            }
            guard let miningKind = TripletMining(rawValue: mining) else {
                throw SightlineError.badInput("unknown mining \"\(mining)\": use batch-hard or semi-hard")
            }
            guard epochs >= 1, dim >= 1, batchSize >= 2, lr > 0, lr.isFinite else {
                throw SightlineError.badInput("epochs, dim and batch size must be positive, lr a positive number")
            }
            var data = try DatasetCatalog.load(dataset)
            guard var labels = data.baseLabels else {
                throw SightlineError.badInput("\(dataset) has no labels: put them in NAME.labels beside the vectors")
            }
            if let limit {
                guard limit >= 2 else { throw SightlineError.badInput("--limit must be at least 2") }
                data.base = data.base.slice(0 ..< min(limit, data.base.rowCount))
                labels = Array(labels.prefix(limit))
            }
            let classes = Int((labels.max() ?? 0) + 1)
            guard labels.allSatisfy({ $0 >= 0 }) else { throw SightlineError.badInput("labels must be 0 or more") }
            var settings = TrainingSettings()
            settings.loss = kind
            settings.epochs = epochs
            settings.batchSize = batchSize
            settings.optimizer.kind = optimizerKind
            settings.optimizer.learningRate = lr
            settings.tripletMining = miningKind
            settings.seed = seed
            settings.instanceViews = instances
            settings.threads = resolvedThreadCount(threads)
            let side = Int(Double(data.base.dimension).squareRoot())
            if augment, side * side == data.base.dimension { settings.augmentation = Augmentation(side: side) }
            let convolutions = conv == "none" ? [] : try parseIntegerList(conv, name: "conv")
            let hiddenSizes = try parseIntegerList(hidden ?? (convolutions.isEmpty ? "1024,512" : "256"), name: "hidden")
            var image: ImageGeometry?
            if !convolutions.isEmpty {
                guard side * side == data.base.dimension else {
                    throw SightlineError.badInput("conv blocks need square grey images; "
                                                  + "\(data.base.dimension) values per item is not one: pass --conv none")
                }
                image = ImageGeometry(width: side, height: side, channels: 1)
            }
            let shape = NetworkShape(inputSize: data.base.dimension, hiddenSizes: hiddenSizes, embeddingSize: dim,
                                     convolutionChannels: convolutions, image: image)
            try shape.validate()
            let trainer = DescriptorTrainer(shape: shape, settings: settings, classCount: classes)
            let progress = ProgressReporter()
            let (reports, seconds) = try measureSeconds {
                try trainer.train(data.base, labels: labels, progress: { partial in
                    progress.report("train \(kind.rawValue) epoch \(partial.epoch)/\(epochs)", partial.step, partial.steps,
                                    detail: String(format: "loss %.4f, %.0f images/s", partial.meanLoss, partial.imagesPerSecond))
                }, report: { report in
                    progress.report("train \(kind.rawValue)", report.epoch, epochs,
                                    detail: String(format: "loss %.4f, %.0f images/s, %.0f s",
                                                           report.meanLoss, report.imagesPerSecond, report.seconds))
                })
            }
            // The thresholds travel with the model: calibrated on training images.
            (trainer.network.verificationThreshold, trainer.network.identificationThreshold) =
                try DescriptorCalibration.calibrate(trainer.network, images: data.base, labels: labels, threads: settings.threads)
            try FileBytes.writeAtomically(ModelFile.encode(trainer.network), to: out)
            printLine(String(format: "trained %@ (d=%d) for %d epochs in %.1f s, final loss %.4f, "
                             + "thresholds: verification %.4f, identification %.4f -> %@",
                             kind.rawValue, dim, epochs, seconds, reports.last?.meanLoss ?? 0,
                             trainer.network.verificationThreshold ?? .nan, trainer.network.identificationThreshold ?? .nan, out))
        }
    }
}

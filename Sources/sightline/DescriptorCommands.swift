import ArgumentParser
import Datasets
import Descriptors
import Foundation
import SightlineKit
import VectorMath

struct TrainDescriptorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-descriptor",
        abstract: "Train an embedding network (MLP → L2-normalised descriptor) with a metric-learning loss.",
        discussion: "Example: sightline train-descriptor --dataset fashion-mnist --loss arcface --dim 128 --epochs 15 --out runs/arcface.sldm")

    @Option(help: "Labelled training images: fashion-mnist (its 60,000 training images) or a vector file with NAME.labels.")
    var dataset: String = "fashion-mnist"

    @Option(help: "Loss: contrastive, triplet, center, sphereface, cosface, arcface.")
    var loss: String = "arcface"

    @Option(help: "Descriptor dimension d.")
    var dim: Int = 128

    @Option(help: "Hidden layer widths, comma-separated.")
    var hidden: String = "1024,512"

    @Option(help: "Epochs.")
    var epochs: Int = 15

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

    @Option(help: "Seed.")
    var seed: UInt64 = 7

    @Option(help: "Output model file.")
    var out: String

    func run() throws {
        try reportingErrors {
            guard let kind = LossKind(rawValue: loss) else { throw DescriptorError.unknownLoss(loss) }
            guard let optimizerKind = OptimizerKind(rawValue: optimizer) else { throw SightlineError.badInput("unknown optimiser \"\(optimizer)\": use adam or sgd") }
            guard let miningKind = TripletMining(rawValue: mining) else { throw SightlineError.badInput("unknown mining \"\(mining)\": use batch-hard or semi-hard") }
            guard epochs >= 1, dim >= 1, batchSize >= 2, lr > 0, lr.isFinite else { throw SightlineError.badInput("epochs, dim and batch size must be positive, lr a positive number") }
            let data = try DatasetCatalog.load(dataset)
            guard let labels = data.baseLabels else { throw SightlineError.badInput("\(dataset) has no labels: put them in NAME.labels beside the vectors") }
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
            let side = Int(Double(data.base.dimension).squareRoot())
            if augment, side * side == data.base.dimension { settings.augmentation = Augmentation(side: side) }
            let shape = NetworkShape(inputSize: data.base.dimension, hiddenSizes: try parseIntegerList(hidden, name: "hidden"), embeddingSize: dim)
            let trainer = DescriptorTrainer(shape: shape, settings: settings, classCount: classes)
            let progress = ProgressReporter()
            let (reports, seconds) = try measureSeconds {
                try trainer.train(data.base, labels: labels) { report in
                    progress.report("train \(kind.rawValue)", report.epoch, epochs,
                                    detail: String(format: "loss %.4f, %.0f images/s", report.meanLoss, report.imagesPerSecond))
                }
            }
            try FileBytes.writeAtomically(ModelFile.encode(trainer.network), to: out)
            printLine(String(format: "trained %@ (d=%d) for %d epochs in %.1f s, final loss %.4f -> %@", kind.rawValue, dim, epochs, seconds,
                             reports.last?.meanLoss ?? 0, out))
        }
    }
}

struct EvalDescriptorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval-descriptor",
        abstract: "Recall@1/2/4/8 and mAP on the Fashion-MNIST test split: each test image queries the other 9,999 (exact search).",
        discussion: "Example: sightline eval-descriptor --model runs/arcface.sldm   (or --raw for raw pixels)")

    @Option(help: "Model file from train-descriptor.")
    var model: String?

    @Flag(help: "Evaluate raw pixels instead of a model.")
    var raw = false

    @Option(help: "Evaluate raw pixels projected on their first N principal components (fitted on the training split).")
    var pca: Int?

    @Option(help: "Labelled evaluation images (default: the Fashion-MNIST test split).")
    var dataset: String = "fashion-mnist"

    @Flag(help: "One JSON object.")
    var json = false

    func run() throws {
        try reportingErrors {
            let data = try DatasetCatalog.load(dataset)
            guard let labels = data.queryLabels else { throw SightlineError.badInput("\(dataset) has no labels") }
            let descriptors: Matrix
            if let pca {
                descriptors = try PCA(fitting: data.base, count: pca).project(data.queries)
            } else if raw {
                descriptors = data.queries
            } else {
                guard let model else { throw SightlineError.badInput("give --model FILE, --raw or --pca N") }
                descriptors = try ModelFile.decode(try FileBytes.read(model)).embed(data.queries)
            }
            let progress = ProgressReporter()
            let quality = evaluateRetrieval(descriptors, labels: labels) { done, total in progress.report("evaluate", done, total) }
            let name = pca.map { "PCA-\($0)" } ?? (raw ? "raw pixels" : model!)
            if json {
                printLine("{\"descriptor\": \"\(name)\", \"dim\": \(descriptors.dimension), \"recall_at_1\": \(quality.recall[1]!), \"recall_at_2\": \(quality.recall[2]!), "
                    + "\"recall_at_4\": \(quality.recall[4]!), \"recall_at_8\": \(quality.recall[8]!), \"map\": \(quality.meanAveragePrecision)}")
            } else {
                printLine(String(format: "%@ (d=%d): Recall@1 %.4f  @2 %.4f  @4 %.4f  @8 %.4f  mAP %.4f", name, descriptors.dimension,
                                 quality.recall[1]!, quality.recall[2]!, quality.recall[4]!, quality.recall[8]!, quality.meanAveragePrecision))
            }
        }
    }
}

struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Turn images into descriptors with a trained model, written as .fvecs (labels kept in NAME.labels).",
        discussion: """
        Example: sightline embed --model runs/arcface.sldm --input /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz --out q.fvecs
        Inputs: gzip'd IDX image files (labels from the matching -labels-idx1-ubyte.gz), fashion-mnist \
        (its training images), or binary PGM (P5) images of the model's input size (one or more paths, comma-separated).
        """)

    @Option(help: "Model file from train-descriptor.")
    var model: String

    @Option(help: "Images: an IDX file, fashion-mnist, or comma-separated .pgm files.")
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
                let paths = input.split(separator: ",").map(String.init)
                var values: [Float] = []
                for path in paths { values += try PGMFormat.read(path, expectedPixels: network.shape.inputSize) }
                images = try Matrix(dimension: network.shape.inputSize, values: values)
            }
            let descriptors = try network.embed(images)
            try VectorFiles.write(descriptors, to: out)
            if let labels { try VectorFiles.writeLabels(labels, to: (out as NSString).deletingPathExtension + ".labels") }
            printLine("embedded \(descriptors.rowCount) images into \(descriptors.dimension)-d descriptors -> \(out)\(labels == nil ? "" : " (+ labels)")")
        }
    }
}

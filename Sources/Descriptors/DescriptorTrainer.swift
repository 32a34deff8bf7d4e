import RealModule
import VectorMath

/// What a training run uses. Defaults come from the literature, adapted to unit-length
/// embeddings (see each loss's documentation).
public struct TrainingSettings: Sendable, Equatable {
    public var loss: LossKind = .arcface
    public var epochs: Int = 10
    /// Images per batch for the classification-style losses.
    public var batchSize: Int = 256
    /// P classes × K images per batch for contrastive and triplet.
    public var classesPerBatch: Int = 10
    public var imagesPerClass: Int = 16
    public var optimizer = OptimizerSettings()
    public var augmentation: Augmentation?
    public var seed: UInt64 = 7
    public var tripletMining: TripletMining = .batchHard
    /// Instance-level training for near-duplicate search: every image is its own class, seen as
    /// two independently edited views (`ImageEdit`: shift, crop, noise) in the same batch; the
    /// labels are ignored. Needs a pair or triplet loss.
    public var instanceViews = false
    /// Threads for training: the layers split their products and loops over this many (OpenBLAS
    /// itself stays at one thread, see `ParallelProducts`).
    public var threads = 1
    public init() {}
}

/// One epoch's summary for progress lines.
public struct EpochReport: Sendable {
    public var epoch: Int
    /// Batches done in this epoch, out of `steps`: reported every few batches as well.
    public var step: Int = 0
    public var steps: Int = 0
    public var meanLoss: Float
    public var imagesPerSecond: Double
    public var seconds: Double
}

/// Builds the loss a run asks for, with its default margins and scales.
public func makeLoss(_ kind: LossKind, classCount: Int, dimension: Int, mining: TripletMining = .batchHard,
                     generator: inout SeededGenerator) -> any EmbeddingLoss {
    switch kind {
    case .contrastive: return ContrastiveLoss()
    case .triplet: return TripletLoss(margin: 0.1, mining: mining)
    case .center: return CenterLoss(classCount: classCount, dimension: dimension, generator: &generator)
    case .cosface: return MarginSoftmaxLoss(classCount: classCount, dimension: dimension,
                                            margin: .cosFace(scale: 64, margin: 0.35), generator: &generator)
    case .arcface: return MarginSoftmaxLoss(classCount: classCount, dimension: dimension,
                                            margin: .arcFace(scale: 64, margin: 0.5), generator: &generator)
    case .sphereface: return MarginSoftmaxLoss(classCount: classCount, dimension: dimension,
                                               margin: .sphereFace(scale: 30, margin: 4, lambda: 1000), generator: &generator)
    }
}

/// Trains an `EmbeddingNetwork` with one of the losses.
public final class DescriptorTrainer {
    public let network: EmbeddingNetwork
    public let loss: any EmbeddingLoss
    public let settings: TrainingSettings
    var generator: SeededGenerator

    public init(shape: NetworkShape, settings: TrainingSettings, classCount: Int) {
        network = EmbeddingNetwork(shape: shape, seed: settings.seed)
        var generator = SeededGenerator(seed: settings.seed &+ 1)
        loss = makeLoss(settings.loss, classCount: classCount, dimension: shape.embeddingSize, mining: settings.tripletMining,
                        generator: &generator)
        self.settings = settings
        self.generator = generator
    }

    /// Runs `settings.epochs` epochs over `images` (one row per image) and `labels` (0…classes−1).
    /// Throws when the loss stops being finite, naming the epoch and step.
    /// `progress` hears about the running epoch every 20 batches; `report` gets each finished epoch.
    public func train(_ images: Matrix, labels: [Int32], progress: (EpochReport) -> Void = { _ in },
                      report: (EpochReport) -> Void = { _ in }) throws(DescriptorError) -> [EpochReport] {
        guard images.dimension == network.shape.inputSize else {
            throw .dimensionMismatch(expected: network.shape.inputSize, got: images.dimension)
        }
        guard images.rowCount == labels.count, !labels.isEmpty else {
            throw .invalidParameter("\(images.rowCount) images but \(labels.count) labels")
        }
        if let row = images.firstNonFiniteRow() {
            throw .invalidParameter("image \(row) holds NaN or infinity: clean or drop it before training")
        }
        if settings.instanceViews {
            guard settings.loss.needsBalancedBatches else {
                throw .invalidParameter("instance training needs the contrastive or triplet loss")
            }
            guard Int(Double(images.dimension).squareRoot()) * Int(Double(images.dimension).squareRoot()) == images.dimension else {
                throw .invalidParameter("instance training edits square grey images; \(images.dimension) values per image is not one")
            }
        }
        network.threads = settings.threads
        defer { network.threads = 1 }
        var sampler = BatchSampler(labels: labels, seed: settings.seed &+ 2)
        // Instance batches hold two views of each image.
        let imagesPerBatch = settings.instanceViews ? max(2, settings.batchSize / 2) : settings.batchSize
        let perEpoch = max(1, images.rowCount / imagesPerBatch)
        let optimizer = Optimizer(settings: settings.optimizer, totalSteps: perEpoch * settings.epochs)
        let parameters = network.parameters + loss.parameters
        var reports: [EpochReport] = []
        for epoch in 1 ... settings.epochs {
            let start = ContinuousClock.now
            // Instance batches draw their images from a few classes: look-alikes are the negatives
            // that teach a near-duplicate descriptor something.
            let batches = settings.instanceViews
                ? sampler.balancedBatches(count: perEpoch, classes: min(4, Set(labels).count),
                                          perClass: max(1, imagesPerBatch / min(4, Set(labels).count)))
                : settings.loss.needsBalancedBatches
                ? sampler.balancedBatches(count: perEpoch, classes: settings.classesPerBatch, perClass: settings.imagesPerClass)
                : sampler.shuffledEpoch(batchSize: min(settings.batchSize, images.rowCount))
            var total: Float = 0, seen = 0
            for (step, batch) in batches.enumerated() {
                var input: Matrix, batchLabels: [Int32]
                if settings.instanceViews {
                    (input, batchLabels) = editedViews(images, batch)
                } else {
                    input = images.rows(at: batch)
                    batchLabels = batch.map { labels[$0] }
                }
                if let augmentation = settings.augmentation { input = augmentation.apply(input, generator: &generator) }
                annealSphereFace(step: optimizer.step)
                parameters.forEach { $0.zeroGradient() }
                let embeddings = network.forward(input, training: true)
                let (value, gradient) = loss.lossAndGradient(embeddings, labels: batchLabels)
                guard value.isFinite, gradient.values.allSatisfy(\.isFinite) else { throw .nonFiniteLoss(epoch: epoch, step: step) }
                network.backward(gradient)
                guard parameters.allSatisfy({ $0.gradient.allSatisfy(\.isFinite) }) else { throw .nonFiniteLoss(epoch: epoch, step: step) }
                optimizer.update(parameters)
                total += value * Float(batch.count)
                seen += batch.count
                if (step + 1) % 20 == 0, step + 1 < batches.count {
                    progress(summary(epoch: epoch, step: step + 1, steps: batches.count, total: total, seen: seen, since: start))
                }
            }
            let entry = summary(epoch: epoch, step: batches.count, steps: batches.count, total: total, seen: seen, since: start)
            reports.append(entry)
            report(entry)
        }
        return reports
    }

    /// Two independently edited views of each image (one random edit each, or none a quarter of
    /// the time), labelled by the image's row (an image drawn twice is still one instance).
    func editedViews(_ images: Matrix, _ batch: [Int]) -> (Matrix, [Int32]) {
        let side = Int(Double(images.dimension).squareRoot())
        var values: [Float] = []
        values.reserveCapacity(2 * batch.count * images.dimension)
        var labels: [Int32] = []
        for index in batch {
            let original = Array(images.row(index))
            for _ in 0 ..< 2 {
                let kind = generator.nextInt(below: 4)
                values += kind == 3
                    ? original
                    : ImageEdit.random(using: &generator, kind: kind).apply(original, side: side, generator: &generator)
                labels.append(Int32(truncatingIfNeeded: index))
            }
        }
        // The images' dimension by construction.
        return (try! Matrix(dimension: images.dimension, values: values), labels)
    }

    private func summary(epoch: Int, step: Int, steps: Int, total: Float, seen: Int, since start: ContinuousClock.Instant) -> EpochReport {
        let elapsed = start.duration(to: .now)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        return EpochReport(epoch: epoch, step: step, steps: steps, meanLoss: total / Float(max(1, seen)),
                           imagesPerSecond: Double(seen) / max(seconds, 1e-9), seconds: seconds)
    }

    /// SphereFace's λ falls from 1000 towards 5 as training goes (λ = max(5, 1000 / (1 + 0.1·step))).
    func annealSphereFace(step: Int) {
        guard let margin = loss as? MarginSoftmaxLoss, case .sphereFace(let scale, let m, _) = margin.margin else { return }
        margin.margin = .sphereFace(scale: scale, margin: m, lambda: max(5, 1000 / (1 + 0.1 * Float(step))))
    }
}

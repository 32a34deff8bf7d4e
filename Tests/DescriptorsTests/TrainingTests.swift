import Datasets
import Foundation
import RetrievalEval
import Testing
@testable import Descriptors
@testable import VectorMath

/// Recall@1 with each item querying all others (itself excluded), exact search.
func recallAt1(_ embeddings: Matrix, labels: [Int32]) throws -> Double {
    let neighbours = try exactSearch(queries: embeddings, base: embeddings, k: 2, metric: .l2, threads: 2)
    let ranked = neighbours.enumerated().map { query, row in
        row.filter { Int($0.id.rawValue) != query }.map { labels[Int($0.id.rawValue)] }
    }
    return LabelRetrieval.recallAtR(rankedLabels: ranked, queryLabels: labels, r: 1)
}

enum SmallFashion {
    static let data = try! DatasetCatalog.load("fashion-mnist")
    static let train = data.base.slice(0 ..< 3000)
    static let trainLabels = Array(data.baseLabels![0 ..< 3000])
    static let test = data.queries.slice(0 ..< 1000)
    static let testLabels = Array(data.queryLabels![0 ..< 1000])
}

@Suite(.serialized) struct TrainingTests {
    static func settings(_ loss: LossKind) -> TrainingSettings {
        var settings = TrainingSettings()
        settings.loss = loss
        settings.epochs = 4
        settings.batchSize = 100
        settings.optimizer.warmupSteps = 10
        settings.optimizer.learningRate = 2e-3
        return settings
    }

    @Test(arguments: [LossKind.arcface, .triplet])
    func aShortRunLowersTheLossAndRaisesRecall(loss: LossKind) throws {
        let shape = NetworkShape(inputSize: 784, hiddenSizes: [256], embeddingSize: 64)
        let trainer = DescriptorTrainer(shape: shape, settings: Self.settings(loss), classCount: 10)
        let before = try recallAt1(trainer.network.embed(SmallFashion.test), labels: SmallFashion.testLabels)
        let reports = try trainer.train(SmallFashion.train, labels: SmallFashion.trainLabels)
        let after = try recallAt1(trainer.network.embed(SmallFashion.test), labels: SmallFashion.testLabels)
        #expect(reports.last!.meanLoss < reports.first!.meanLoss, "\(reports.map(\.meanLoss))")
        #expect(after > before + 0.02, "Recall@1 \(before) → \(after)")
    }

    /// Instance training: views are paired by image, and a short run makes an edited copy's
    /// nearest original its own more often than the untrained net does.
    @Test func instanceTrainingLearnsToFindEditedCopies() throws {
        var settings = Self.settings(.triplet)
        settings.instanceViews = true
        settings.epochs = 3
        settings.batchSize = 64
        let trainer = DescriptorTrainer(shape: NetworkShape(inputSize: 784, hiddenSizes: [128], embeddingSize: 32),
                                        settings: settings, classCount: 10)
        let (views, viewLabels) = trainer.editedViews(SmallFashion.train, [5, 9, 5])
        #expect(views.rowCount == 6 && viewLabels == [5, 5, 9, 9, 5, 5])
        let copies = DuplicateSet(images: SmallFashion.test.slice(0 ..< 300), side: 28, copies: 300, seed: 3)
        func ownOriginalFound() throws -> Double {
            let embedded = try trainer.network.embed(copies.images)
            let nearest = try exactSearch(queries: embedded.slice(300 ..< 600), base: embedded.slice(0 ..< 300), k: 1, metric: .l2)
            return Double(copies.truePairs.count(where: { nearest[$0[1] - 300].first!.id.rawValue == UInt64($0[0]) })) / 300
        }
        let before = try ownOriginalFound()
        let reports = try trainer.train(SmallFashion.train, labels: SmallFashion.trainLabels)
        let after = try ownOriginalFound()
        #expect(reports.last!.meanLoss < reports.first!.meanLoss, "\(reports.map(\.meanLoss))")
        #expect(after > before + 0.05, "copies finding their original: \(before) → \(after)")
        var classification = settings
        classification.loss = .arcface
        #expect(throws: DescriptorError.invalidParameter("instance training needs the contrastive or triplet loss")) {
            try DescriptorTrainer(shape: NetworkShape(inputSize: 784, hiddenSizes: [8], embeddingSize: 4),
                                  settings: classification, classCount: 10)
                .train(SmallFashion.train.slice(0 ..< 100), labels: Array(SmallFashion.trainLabels[0 ..< 100]))
        }
    }

    @Test func modelFilesRoundTripAndEmbedIdentically() throws {
        let shape = NetworkShape(inputSize: 784, hiddenSizes: [32], embeddingSize: 16)
        let trainer = DescriptorTrainer(shape: shape, settings: Self.settings(.cosface), classCount: 10)
        _ = try trainer.train(SmallFashion.train.slice(0 ..< 500), labels: Array(SmallFashion.trainLabels[0 ..< 500]))
        let bytes = ModelFile.encode(trainer.network)
        let loaded = try ModelFile.decode(bytes)
        #expect(ModelFile.encode(loaded) == bytes)
        let images = SmallFashion.test.slice(0 ..< 20)
        #expect(try loaded.embed(images) == trainer.network.embed(images))
    }

    @Test func convolutionalModelsRoundTripWithTheirThreshold() throws {
        let shape = NetworkShape(inputSize: 784, hiddenSizes: [16], embeddingSize: 8, convolutionChannels: [4, 6],
                                 image: ImageGeometry(width: 28, height: 28, channels: 1))
        var settings = Self.settings(.arcface)
        settings.epochs = 1
        let trainer = DescriptorTrainer(shape: shape, settings: settings, classCount: 10)
        _ = try trainer.train(SmallFashion.train.slice(0 ..< 300), labels: Array(SmallFashion.trainLabels[0 ..< 300]))
        trainer.network.verificationThreshold = 0.875
        trainer.network.identificationThreshold = 0.125
        let loaded = try ModelFile.decode(ModelFile.encode(trainer.network))
        #expect(loaded.shape == shape)
        #expect(loaded.verificationThreshold == 0.875 && loaded.identificationThreshold == 0.125)
        let images = SmallFashion.test.slice(0 ..< 12)
        #expect(try loaded.embed(images) == trainer.network.embed(images))
    }

    @Test func olderModelVersionsStillLoad() throws {
        let network = EmbeddingNetwork(shape: NetworkShape(inputSize: 10, hiddenSizes: [4], embeddingSize: 3), seed: 1)
        network.verificationThreshold = 0.5
        let current = ModelFile.encode(network)
        func rewritten(version: UInt8, keepingWordsAfterFlag kept: Int) -> [UInt8] {
            // After the batch-norm flag version 3 has 6 words: conv count, width, height, channels,
            // two thresholds. Version 2 lacks the last, version 1 all six.
            let flagEnd = 4 + 4 * 5 + 1
            var bytes = Array(current[0 ..< 4]) + [version, 0, 0, 0] + Array(current[8 ..< flagEnd + 4 * kept])
                + Array(current[(flagEnd + 24) ..< (current.count - 4)])
            withUnsafeBytes(of: CRC32.checksum(bytes).littleEndian) { bytes.append(contentsOf: $0) }
            return bytes
        }
        let one = try ModelFile.decode(rewritten(version: 1, keepingWordsAfterFlag: 0))
        #expect(one.verificationThreshold == nil && one.identificationThreshold == nil)
        let two = try ModelFile.decode(rewritten(version: 2, keepingWordsAfterFlag: 5))
        #expect(two.verificationThreshold == 0.5 && two.identificationThreshold == nil)
        two.verificationThreshold = nil
        #expect(ModelFile.encode(one) == ModelFile.encode(two))
        #expect(try one.embed(Matrix(zeros: 2, dimension: 10)) == network.embed(Matrix(zeros: 2, dimension: 10)))
        #expect(throws: DescriptorError.self) { try ModelFile.decode(rewritten(version: 9, keepingWordsAfterFlag: 6)) }
    }

    @Test func corruptAndTruncatedModelsAreErrors() throws {
        let bytes = ModelFile.encode(EmbeddingNetwork(shape: NetworkShape(inputSize: 10, hiddenSizes: [4], embeddingSize: 3), seed: 1))
        #expect(throws: DescriptorError.self) { try ModelFile.decode(Array(bytes.prefix(bytes.count - 7))) }
        var flipped = bytes
        flipped[20] ^= 0xFF
        #expect(throws: DescriptorError.corruptModel("checksum mismatch")) { try ModelFile.decode(flipped) }
        #expect(throws: DescriptorError.corruptModel("not a Sightline descriptor model (no SLDM magic)")) {
            try ModelFile.decode(Array("hello world".utf8))
        }
    }

    @Test func wrongImageSizeAndNaNAreClearErrors() throws {
        let shape = NetworkShape(inputSize: 784, hiddenSizes: [16], embeddingSize: 8)
        let trainer = DescriptorTrainer(shape: shape, settings: Self.settings(.arcface), classCount: 10)
        #expect(throws: DescriptorError.dimensionMismatch(expected: 784, got: 100)) {
            try trainer.network.embed(Matrix(zeros: 2, dimension: 100))
        }
        var poisoned = SmallFashion.train.slice(0 ..< 200)
        poisoned.withUnsafeMutableBufferPointer { $0[5 * 784 + 3] = .nan }
        #expect(throws: DescriptorError.invalidParameter("image 5 holds NaN or infinity: clean or drop it before training")) {
            try trainer.train(poisoned, labels: Array(SmallFashion.trainLabels[0 ..< 200]))
        }
        // A learning rate that blows the weights up: training stops at the first non-finite step.
        var reckless = Self.settings(.cosface)
        reckless.optimizer.kind = .sgd
        reckless.optimizer.learningRate = 1e30
        reckless.optimizer.warmupSteps = 0
        let diverging = DescriptorTrainer(shape: shape, settings: reckless, classCount: 10)
        do {
            _ = try diverging.train(SmallFashion.train.slice(0 ..< 400), labels: Array(SmallFashion.trainLabels[0 ..< 400]))
            Issue.record("training with a learning rate of 1e30 did not stop")
        } catch {
            guard case .nonFiniteLoss = error else { Issue.record("unexpected \(error)"); return }
            #expect(error.description.contains("lower the learning rate"))
        }
        #expect(DescriptorError.unknownLoss("softmax++").description.contains("arcface"))
    }
}

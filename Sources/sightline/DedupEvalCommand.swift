import ArgumentParser
import Datasets
import Descriptors
import ErrorKinds
import Foundation
import ProcessRuntime
import RetrievalEval
import VectorIndex
import VectorMath
import Workflows

struct DedupEvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dedup-eval",
        abstract: "Measure near-duplicate detection on Fashion-MNIST plus edited copies: precision, recall and time, index vs exact.",
        discussion: """
        Example: sightline dedup-eval --raw   (or --model runs/arcface.sldm)
        The threshold is calibrated (best F1) on the first 10,000 training images plus edited copies of 1,000 \
        of them; the test set is the 10,000 test images plus edited copies (1–2 px shift, 85–90 % crop, \
        σ 0.03–0.06 noise) of --copies of them. The true pairs are (original, copy). Both the IVF-PQ range \
        search and the exact all-pairs baseline run at that threshold.
        """)

    @Option(help: "Model file (descriptors from the network).")
    var model: String?

    @Option(help: "With --model: use the output of the first N layers instead of the descriptor.")
    var layers: Int?

    @Flag(help: "Raw pixels as the descriptors.")
    var raw = false

    @Option(help: "Pooled pixels as the descriptors: N×N cell averages, centred, unit length (no training).")
    var pooled: Int?

    @Option(help: "Edited copies added to the originals.")
    var copies: Int = 1000

    @Option(help: "Originals: the 10,000 test images, then training images 10,000 on (never the calibration ones); at most 60,000.")
    var originals: Int = 10_000

    @Option(help: "Inverted lists probed per vector.")
    var nprobe: Int = 8

    @Flag(help: "One JSON object.")
    var json = false

    func run() throws {
        try reportingErrors {
            guard [model != nil, raw, pooled != nil].count(where: { $0 }) == 1 else {
                throw SightlineError.badInput("give one of --model FILE, --raw, --pooled N")
            }
            if let pooled, !(1 ... 14).contains(pooled) { throw SightlineError.badInput("--pooled must be 1…14") }
            guard originals >= 1000, originals <= 60_000 else { throw SightlineError.badInput("--originals must be 1000…60000") }
            guard copies >= 1, copies <= originals else { throw SightlineError.badInput("--copies must be 1…\(originals)") }
            let data = try DatasetCatalog.load("fashion-mnist")
            let network = try model.map { try ModelFile.decode(try FileBytes.read($0)) }
            network?.threads = resolvedThreadCount(0)
            let describe: (Matrix) throws -> Matrix = { images in
                if let pooled { return pooledPixels(images, side: 28, pool: pooled) }
                if let network, let layers { return try network.features(images, layerCount: layers) }
                return try network?.embed(images) ?? images
            }
            let progress = ProgressReporter()

            let calibrationSet = DuplicateSet(images: data.base.slice(0 ..< 10_000), side: 28, copies: 1000, seed: 21)
            let calibration = try describe(calibrationSet.images)
            let trueDistances = calibrationSet.truePairs.map { pair in
                calibration.withUnsafeBufferPointer { x in
                    squaredL2(x.baseAddress! + pair[0] * calibration.dimension, x.baseAddress! + pair[1] * calibration.dimension,
                              calibration.dimension)
                }
            }.sorted()
            let generous = trueDistances[min(trueDistances.count - 1, trueDistances.count * 99 / 100)]
            let candidates = exactPairsWithin(calibration, radius: generous, threads: resolvedThreadCount(0)) {
                progress.report("calibrate", $0, $1)
            }
            let threshold = DuplicateDetection.calibrateThreshold(candidates, truth: calibrationSet.truePairs)

            var pool = data.queries.slice(0 ..< min(originals, data.queries.rowCount))
            if originals > pool.rowCount { try pool.append(data.base.slice(10_000 ..< 10_000 + originals - pool.rowCount)) }
            let testSet = DuplicateSet(images: pool, side: 28, copies: copies, seed: 23)
            let descriptors = try describe(testSet.images)
            var settings = DedupSettings(radius: threshold)
            settings.probeCount = nprobe
            let indexed = try findNearDuplicates(descriptors, settings: settings) { progress.report("range search", $0, $1) }
            let (exactPairs, exactSeconds) = measureSeconds {
                exactPairsWithin(descriptors, radius: threshold, threads: resolvedThreadCount(0)) { progress.report("all pairs", $0, $1) }
            }
            let viaIndex = DuplicateDetection.score(indexed.pairs, truth: testSet.truePairs)
            let viaExact = DuplicateDetection.score(exactPairs, truth: testSet.truePairs)
            let agreement = Double(Set(indexed.pairs.map { [$0.first, $0.second] })
                                   .intersection(exactPairs.map { [$0.first, $0.second] }).count)
                / Double(max(1, exactPairs.count))
            let indexSeconds = indexed.indexSeconds + indexed.searchSeconds
            let name = model ?? pooled.map { "pooled pixels \($0)×\($0)" } ?? "raw pixels"
            if json {
                let fields: [String: JSONScalar] = [
                    "descriptor": .text(name), "threshold": .number(Double(threshold)), "vectors": .integer(descriptors.rowCount),
                    "true_pairs": .integer(testSet.truePairs.count), "index_pairs": .integer(viaIndex.found),
                    "index_precision": .number(viaIndex.precision), "index_recall": .number(viaIndex.recall),
                    "exact_pairs": .integer(viaExact.found), "exact_precision": .number(viaExact.precision),
                    "exact_recall": .number(viaExact.recall), "index_finds_of_exact": .number(agreement),
                    "index_seconds": .number(indexSeconds), "index_build_seconds": .number(indexed.indexSeconds),
                    "exact_seconds": .number(exactSeconds), "nlist": .integer(indexed.listCount),
                    "m": .integer(indexed.subquantizerCount), "nprobe": .integer(nprobe),
                ]
                try printJSON(fields)
            } else {
                printLine(String(format: "%@: threshold %.4f (calibrated on training copies); %d vectors, %d true pairs",
                                 name, threshold, descriptors.rowCount, testSet.truePairs.count))
                printLine(String(format: "  IVF-PQ range search (nlist %d, m %d, nprobe %d): %d pairs, precision %.4f, "
                                 + "recall %.4f, %.2f s (%.2f s of it building the index); finds %.4f of the exact pairs",
                                 indexed.listCount, indexed.subquantizerCount, nprobe, viaIndex.found, viaIndex.precision,
                                 viaIndex.recall, indexSeconds, indexed.indexSeconds, agreement))
                printLine(String(format: "  exact all pairs:  %d pairs, precision %.4f, recall %.4f, %.2f s",
                                 viaExact.found, viaExact.precision, viaExact.recall, exactSeconds))
            }
        }
    }
}

import Datasets
import Descriptors
import Foundation
import Testing
import VectorMath

@Suite(.serialized) struct DescriptorCLITests {
    static let folder = CLI.folder()
    static let model: String = {
        let path = "\(folder)/tiny.sldm"
        _ = try? CLI.run(["train-descriptor", "--loss", "cosface", "--conv", "4", "--hidden", "32", "--dim", "16", "--epochs", "1",
                          "--limit", "3000", "--out", path])
        return path
    }()

    /// `embed` on a handful of images (PNG and PGM files written from the test split) equals the
    /// in-memory forward pass of the same (convolutional) model on the same pixels.
    @Test func embedMatchesTheInMemoryForwardPass() throws {
        let network = try ModelFile.decode(Array(try Data(contentsOf: URL(fileURLWithPath: Self.model))))
        let images = try IDXFormat.readImages(DatasetCatalog.fashionMNISTDirectory + "/t10k-images-idx3-ubyte.gz").slice(0 ..< 4)
        var paths: [String] = []
        for row in 0 ..< 4 {
            let path = "\(Self.folder)/image\(row).\(row % 2 == 0 ? "png" : "pgm")"
            if row % 2 == 0 {
                try PNGFormat.write(Array(images.row(row)), width: 28, height: 28, to: path)
            } else {
                try PGMFormat.write(Array(images.row(row)), width: 28, height: 28, to: path)
            }
            paths.append(path)
        }
        let out = "\(Self.folder)/four.fvecs"
        let result = try CLI.run(["embed", "--model", Self.model, "--input", paths.joined(separator: ","), "--out", out])
        #expect(result.status == 0, "\(result.stderr)")
        let written = try VectorFiles.read(out)
        let expected = try network.embed(images)
        #expect(written == expected, "largest difference \(zip(written.values, expected.values).map { abs($0 - $1) }.max() ?? -1)")
    }

    @Test func evalPrintsRecallAndMAP() throws {
        let result = try CLI.run(["eval-descriptor", "--model", Self.model, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let row = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        for key in ["recall_at_1", "recall_at_2", "recall_at_4", "recall_at_8", "map"] {
            let value = row?[key] as? Double ?? -1
            #expect(value > 0 && value <= 1, "\(key) = \(value)")
        }
        #expect((row?["recall_at_8"] as? Double ?? 0) >= (row?["recall_at_1"] as? Double ?? 1))
        for key in ["verification_accuracy", "tar_at_far_1e-3", "open_set_identification_rate", "identification_at_far_0.1"] {
            let value = row?[key] as? Double ?? -1
            #expect(value > 0 && value <= 1, "\(key) = \(value)")
        }
        // Rates at the calibrated open-set threshold are rates, and a false-accept rate of 0.1 buys
        // at least what 0.01 does.
        #expect((row?["open_set_false_accept_rate"] as? Double ?? -1) >= 0)
        #expect((row?["identification_at_far_0.1"] as? Double ?? 0) >= (row?["identification_at_far_0.01"] as? Double ?? 1))
    }

    @Test func badDescriptorInputsAreClearErrors() throws {
        let unknown = try CLI.run(["train-descriptor", "--loss", "softmax++", "--out", "\(Self.folder)/never.sldm"])
        #expect(unknown.status == 2 && unknown.stderr.contains("unknown loss \"softmax++\""))
        let corrupt = "\(Self.folder)/corrupt.sldm"
        try Data("SLDM garbage".utf8).write(to: URL(fileURLWithPath: corrupt))
        let broken = try CLI.run(["eval-descriptor", "--model", corrupt])
        #expect(broken.status == 2 && broken.stderr.contains("corrupt"))
        let small = "\(Self.folder)/small.pgm"
        try PGMFormat.write([Float](repeating: 0.5, count: 100), width: 10, height: 10, to: small)
        let wrongSize = try CLI.run(["embed", "--model", Self.model, "--input", small, "--out", "\(Self.folder)/x.fvecs"])
        #expect(wrongSize.status == 2 && wrongSize.stderr.contains("the model takes 784"))
    }

    @Test func brokenPNGFilesAreClearErrors() throws {
        let good = "\(Self.folder)/good.png"
        try PNGFormat.write((0 ..< 784).map { Float($0 % 256) / 255 }, width: 28, height: 28, to: good)
        #expect(try PNGFormat.read(good) == (0 ..< 784).map { Float($0 % 256) / 255 })
        let bytes = try Data(contentsOf: URL(fileURLWithPath: good))
        let cut = "\(Self.folder)/cut.png"
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: cut))
        let notPNG = "\(Self.folder)/text.png"
        try Data("hello, not an image".utf8).write(to: URL(fileURLWithPath: notPNG))
        for (path, message) in [(cut, "PNG data unreadable"), (notPNG, "not a PNG or JPEG image"),
                                ("\(Self.folder)/photo.gif", "must be .png, .jpg or .pgm")] {
            let result = try CLI.run(["embed", "--model", Self.model, "--input", path, "--out", "\(Self.folder)/x.fvecs"])
            #expect(result.status == 2 && result.stderr.contains(message), "\(path): \(result.stderr)")
        }
    }
}

@Suite(.serialized) struct VerifyAndDedupCLITests {
    static let folder = CLI.folder()

    @Test func verifySaysSameForAnImageAndItselfAndRejectsBadInput() throws {
        let model = DescriptorCLITests.model
        let images = try IDXFormat.readImages(DatasetCatalog.fashionMNISTDirectory + "/t10k-images-idx3-ubyte.gz")
        let first = "\(Self.folder)/a.png", copy = "\(Self.folder)/a-copy.pgm"
        try PNGFormat.write(Array(images.row(0)), width: 28, height: 28, to: first)
        try PGMFormat.write(Array(images.row(0)), width: 28, height: 28, to: copy)
        let same = try CLI.run(["verify", "--model", model, "--json", first, copy])
        #expect(same.status == 0, "\(same.stderr)")
        let row = try JSONSerialization.jsonObject(with: Data(same.stdout.utf8)) as? [String: Any]
        #expect((row?["distance"] as? Double ?? 1) < 1e-5 && row?["same"] as? Bool == true)
        #expect((row?["threshold"] as? Double ?? 0) > 0, "train-descriptor stores a calibrated threshold")
        // A threshold of 0 makes any two different images "different".
        let other = "\(Self.folder)/b.png"
        try PNGFormat.write(Array(images.row(1)), width: 28, height: 28, to: other)
        let strict = try CLI.run(["verify", "--model", model, "--threshold", "0", first, other])
        #expect(strict.status == 0 && strict.stdout.contains("different"), "\(strict.stdout) \(strict.stderr)")
        let negative = try CLI.run(["verify", "--model", model, "--threshold=-1", first, other])
        #expect(negative.status == 2 && negative.stderr.contains("--threshold"))
        let missing = try CLI.run(["verify", "--model", model, first, "\(Self.folder)/nowhere.png"])
        #expect(missing.status == 2 && missing.stderr.contains("nowhere.png"))
        // The same image at twice the size is fitted back to 28×28: the same thing, distance 0.
        let pixels = Array(images.row(0))
        let large = "\(Self.folder)/a-56.png"
        try PNGFormat.write((0 ..< 56 * 56).map { pixels[($0 / 56 / 2) * 28 + ($0 % 56) / 2] }, width: 56, height: 56, to: large)
        let enlarged = try CLI.run(["verify", "--model", model, "--json", first, large])
        #expect(enlarged.status == 0, "\(enlarged.stderr)")
        let fitted = try JSONSerialization.jsonObject(with: Data(enlarged.stdout.utf8)) as? [String: Any]
        #expect((fitted?["distance"] as? Double ?? 1) < 1e-5 && fitted?["same"] as? Bool == true)
    }

    /// 1,200 vectors, every fifth a near-copy of the one before: the index finds the same pairs as
    /// the brute-force baseline, written in the documented TSV form.
    @Test func dedupThroughTheIndexMatchesTheExactBaseline() throws {
        var generator = SeededGenerator(seed: 9)
        var values = (0 ..< 1200 * 16).map { _ in Float(generator.nextGaussian()) }
        for row in stride(from: 1, to: 1200, by: 5) {
            for j in 0 ..< 16 { values[row * 16 + j] = values[(row - 1) * 16 + j] + 0.02 * Float(generator.nextGaussian()) }
        }
        let input = "\(Self.folder)/dups.fvecs"
        try VectorFiles.write(try Matrix(dimension: 16, values: values), to: input)
        let indexed = "\(Self.folder)/index.tsv", exact = "\(Self.folder)/exact.tsv"
        let viaIndex = try CLI.run(["dedup", "--input", input, "--threshold", "0.05", "--nlist", "16", "--nprobe", "16", "--out", indexed])
        let viaExact = try CLI.run(["dedup", "--input", input, "--threshold", "0.05", "--exact", "--out", exact])
        #expect(viaIndex.status == 0 && viaExact.status == 0, "\(viaIndex.stderr) \(viaExact.stderr)")
        let indexLines = try String(contentsOfFile: indexed, encoding: .utf8).split(separator: "\n")
        let exactLines = try String(contentsOfFile: exact, encoding: .utf8).split(separator: "\n")
        #expect(exactLines.count == 240)
        #expect(indexLines.map { $0.split(separator: "\t").prefix(2) } == exactLines.map { $0.split(separator: "\t").prefix(2) })
    }

    @Test func descriptorCommandsRejectConflictingOrUnfitOptions() throws {
        let both = try CLI.run(["dedup-eval", "--raw", "--pooled", "4"])
        #expect(both.status == 2 && both.stderr.contains("give one of"), "\(both.stderr)")
        let everything = try CLI.run(["eval-descriptor", "--raw", "--holdout", "0,1,2,3,4,5,6,7,8,9"])
        #expect(everything.status == 2 && everything.stderr.contains("--holdout"), "\(everything.stderr)")
        let copies = try CLI.run(["dedup-eval", "--raw", "--copies", "0"])
        #expect(copies.status == 2 && copies.stderr.contains("--copies"))
        let classification = try CLI.run(["train-descriptor", "--instances", "--loss", "arcface", "--limit", "200",
                                          "--out", "\(Self.folder)/never.sldm"])
        #expect(classification.status == 2 && classification.stderr.contains("contrastive or triplet"), "\(classification.stderr)")
        // Ten values per item are not a square image: conv blocks refuse, and say how to go on.
        let vectors = "\(Self.folder)/ten.fvecs"
        try VectorFiles.write(try Matrix(dimension: 10, values: (0 ..< 400).map { Float($0 % 7) }), to: vectors)
        try VectorFiles.writeLabels((0 ..< 40).map { Int32($0 % 2) }, to: "\(Self.folder)/ten.labels")
        let notSquare = try CLI.run(["train-descriptor", "--dataset", vectors, "--out", "\(Self.folder)/never.sldm"])
        #expect(notSquare.status == 2 && notSquare.stderr.contains("--conv none"), "\(notSquare.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "\(Self.folder)/never.sldm"))
    }

    @Test func dedupRejectsBadInput() throws {
        let poisoned = "\(Self.folder)/nan.fvecs"
        var values = [Float](repeating: 0.5, count: 300 * 4)
        values[7] = .nan
        try VectorFiles.write(try Matrix(dimension: 4, values: values), to: poisoned)
        let nan = try CLI.run(["dedup", "--input", poisoned, "--threshold", "0.1"])
        #expect(nan.status == 2 && nan.stderr.contains("NaN"))
        let negative = try CLI.run(["dedup", "--input", poisoned, "--threshold=-0.1"])
        #expect(negative.status == 2)
        let truncated = "\(Self.folder)/cut.fvecs"
        try Data(try Data(contentsOf: URL(fileURLWithPath: poisoned)).prefix(30)).write(to: URL(fileURLWithPath: truncated))
        let cut = try CLI.run(["dedup", "--input", truncated, "--threshold", "0.1"])
        #expect(cut.status == 2 && !cut.stderr.isEmpty)
    }
}

@Suite(.serialized) struct CalibrateCLITests {
    static let folder = CLI.folder()

    /// A model without thresholds cannot verify until `calibrate` stores them; the identification
    /// threshold comes out tighter than the verification one (the nearest of many is close).
    @Test func calibrateStoresBothThresholds() throws {
        let network = try ModelFile.decode(Array(try Data(contentsOf: URL(fileURLWithPath: DescriptorCLITests.model))))
        network.verificationThreshold = nil
        network.identificationThreshold = nil
        let bare = "\(Self.folder)/bare.sldm"
        try Data(ModelFile.encode(network)).write(to: URL(fileURLWithPath: bare))
        let image = "\(Self.folder)/one.pgm"
        try PGMFormat.write([Float](repeating: 0.25, count: 784), width: 28, height: 28, to: image)
        let refused = try CLI.run(["verify", "--model", bare, image, image])
        #expect(refused.status == 2 && refused.stderr.contains("sightline calibrate"), "\(refused.stderr)")
        let calibrated = try CLI.run(["calibrate", "--model", bare])
        #expect(calibrated.status == 0, "\(calibrated.stderr)")
        let reloaded = try ModelFile.decode(Array(try Data(contentsOf: URL(fileURLWithPath: bare))))
        let verification = try #require(reloaded.verificationThreshold), identification = try #require(reloaded.identificationThreshold)
        #expect(verification > 0 && verification.isFinite && identification > 0)
        #expect(identification < verification)
        #expect(try CLI.run(["verify", "--model", bare, image, image]).stdout.contains("same"))
        let unlabelled = "\(Self.folder)/unlabelled.fvecs"
        try VectorFiles.write(Matrix(zeros: 10, dimension: 784), to: unlabelled)
        let noLabels = try CLI.run(["calibrate", "--model", bare, "--dataset", unlabelled])
        #expect(noLabels.status == 2 && noLabels.stderr.contains("no labels"))
    }
}

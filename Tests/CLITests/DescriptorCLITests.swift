import Datasets
import Descriptors
import Foundation
import Testing
import VectorMath

@Suite(.serialized) struct DescriptorCLITests {
    static let folder = CLI.folder()
    static let model: String = {
        let path = "\(folder)/tiny.sldm"
        _ = try? CLI.run(["train-descriptor", "--loss", "cosface", "--hidden", "32", "--dim", "16", "--epochs", "1", "--out", path])
        return path
    }()

    /// `embed` on a handful of images (PGM files written from the test split) equals the
    /// in-memory forward pass of the same model on the same pixels.
    @Test func embedMatchesTheInMemoryForwardPass() throws {
        let network = try ModelFile.decode(Array(try Data(contentsOf: URL(fileURLWithPath: Self.model))))
        let images = try IDXFormat.readImages(DatasetCatalog.fashionMNISTDirectory + "/t10k-images-idx3-ubyte.gz").slice(0 ..< 4)
        var paths: [String] = []
        for row in 0 ..< 4 {
            let path = "\(Self.folder)/image\(row).pgm"
            try PGMFormat.write(Array(images.row(row)), width: 28, height: 28, to: path)
            paths.append(path)
        }
        let out = "\(Self.folder)/four.fvecs"
        let result = try CLI.run(["embed", "--model", Self.model, "--input", paths.joined(separator: ","), "--out", out])
        #expect(result.status == 0, "\(result.stderr)")
        let written = try VectorFiles.read(out)
        #expect(written == (try network.embed(images)))
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
}

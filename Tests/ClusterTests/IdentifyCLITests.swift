import Datasets
import Foundation
import Testing
import VectorIndex
import VectorMath

/// Images to answers through the whole stack: a descriptor model, `embed`, `ingest` to a real
/// cluster, then `sightline identify IMAGE` against it.
@Suite(.serialized) struct IdentifyCLITests {
    @Test func identifyFindsAStoredImageAndRejectsWhatIsNotThere() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sightline-identify-\(getpid())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let sightline = LocalCluster.binary("sightline")
        var output = ""
        let model = "\(folder)/tiny.sldm"
        #expect(TestHosts.run([sightline, "train-descriptor", "--loss", "cosface", "--conv", "none", "--hidden", "32", "--dim", "16",
                               "--epochs", "1", "--limit", "2000", "--out", model], output: &output) == 0, "\(output)")
        // The collection: the first 2,000 training images' descriptors, labels beside them.
        let images = try IDXFormat.readImages(DatasetCatalog.fashionMNISTDirectory + "/train-images-idx3-ubyte.gz")
        let labels = try IDXFormat.readLabels(DatasetCatalog.fashionMNISTDirectory + "/train-labels-idx1-ubyte.gz")
        let gallery = "\(folder)/gallery.idx"
        #expect(TestHosts.run([sightline, "embed", "--model", model, "--input", "fashion-mnist", "--out", "\(folder)/all.fvecs"],
                              output: &output) == 0, "\(output)")
        let all = try VectorFiles.read("\(folder)/all.fvecs")
        let descriptors = all.slice(0 ..< 2000)
        try VectorFiles.write(descriptors, to: "\(gallery).fvecs")
        try VectorFiles.writeLabels(Array(labels[0 ..< 2000]), to: "\(gallery).labels")
        var training = IVFPQTraining()
        training.iterations = 8
        let codebooks = IndexFile.encode(try IVFPQIndex.train(
            descriptors, configuration: IVFPQConfiguration(dimension: 16, listCount: 8, subquantizerCount: 4),
            training: training))
        let cluster = try LocalCluster(name: "identify", workerCount: 2, index: (16, 8, 4), codebooks: codebooks)
        defer { cluster.stop() }
        try cluster.start()
        let target = ["--coordinator", cluster.coordinatorURL, "--token", cluster.token]
        #expect(TestHosts.run([sightline, "ingest", "--dataset", "\(gallery).fvecs"] + target, output: &output) == 0, "\(output)")

        // A stored image comes back as itself (distance 0 beats any other item), with its label.
        let stored = "\(folder)/stored.png"
        try PNGFormat.write(Array(images.row(7)), width: 28, height: 28, to: stored)
        #expect(TestHosts.run([sightline, "identify", "--model", model, "--nprobe", "8", "--json", stored] + target,
                              output: &output) == 0, "\(output)")
        let hit = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any]
        #expect(hit?["found"] as? Bool == true && hit?["id"] as? Int == 7, "\(output)")
        #expect(hit?["label"] as? Int == Int(labels[7]))
        // An image that is not stored, with a threshold below its nearest distance: not in the collection.
        let outsider = "\(folder)/outsider.pgm"
        try PGMFormat.write(Array(images.row(50_000)), width: 28, height: 28, to: outsider)
        #expect(TestHosts.run([sightline, "identify", "--model", model, "--nprobe", "8", "--threshold", "0", outsider] + target,
                              output: &output) == 0)
        #expect(output.contains("not in the collection"), "\(output)")
        // Bad input: a PGM of the wrong size (PNG and JPEG are fitted; PGM must match), and a
        // coordinator nobody listens on.
        let small = "\(folder)/small.pgm"
        try PGMFormat.write([Float](repeating: 0.2, count: 64), width: 8, height: 8, to: small)
        #expect(TestHosts.run([sightline, "identify", "--model", model, small] + target, output: &output) == 2)
        let nowhere = ["--coordinator", "tcp://127.0.0.1:\(LocalCluster.freePort())", "--token", cluster.token]
        let unreachable = TestHosts.run([sightline, "identify", "--model", model, "--deadline-ms", "500", stored] + nowhere,
                                        output: &output)
        #expect(unreachable != 0 && unreachable != -1 && output.isEmpty, "exit \(unreachable): \(output)")
    }
}

import Foundation
import Testing
@testable import Datasets
@testable import VectorMath

func temporaryPath(_ name: String) -> String {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sightline-tests-\(getpid())")
    try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    return folder.appendingPathComponent(name).path
}

@Suite struct FileFormatTests {
    static let sample = try! Matrix(dimension: 3, values: [1, 2, 3, -4.5, 5.25, 0, 1e-7, 255, 7])

    @Test(arguments: ["x.fvecs", "x.npy"])
    func floatFormatsRoundTrip(name: String) throws {
        let path = temporaryPath(name)
        try VectorFiles.write(Self.sample, to: path)
        #expect(try VectorFiles.read(path) == Self.sample)
    }

    @Test func bvecsAndIvecsRoundTrip() throws {
        let bytes = try Matrix(dimension: 4, values: [0, 1, 128, 255, 3, 4, 5, 6])
        let path = temporaryPath("b.bvecs")
        try VectorFiles.write(bytes, to: path)
        #expect(try VectorFiles.read(path) == bytes)
        let rows: [[Int32]] = [[1, 2, 3], [40_000_001, -5, 0]]
        let ivecs = temporaryPath("g.ivecs")
        try TexmexFormat.writeIntegerRows(rows, to: ivecs)
        #expect(try TexmexFormat.readIntegerRows(ivecs) == rows)
    }

    @Test func truncatedFvecsIsReported() throws {
        let path = temporaryPath("cut.fvecs")
        try VectorFiles.write(Self.sample, to: path)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        try bytes.prefix(bytes.count - 3).write(to: URL(fileURLWithPath: path))
        #expect(throws: DatasetError.truncated(path: path, detail: "record 2 has 13 of 16 bytes")) { try VectorFiles.read(path) }
    }

    @Test func emptyUnknownAndMissingFilesAreReported() throws {
        let empty = temporaryPath("empty.fvecs")
        #expect(FileManager.default.createFile(atPath: empty, contents: Data()))
        #expect(throws: DatasetError.empty(empty)) { try VectorFiles.read(empty) }
        let text = temporaryPath("notes.txt")
        #expect(FileManager.default.createFile(atPath: text, contents: Data("hello".utf8)))
        #expect(throws: DatasetError.unknownFormat(text)) { try VectorFiles.read(text) }
        #expect(throws: DatasetError.fileNotFound("/nonexistent/x.fvecs")) { try VectorFiles.read("/nonexistent/x.fvecs") }
    }

    @Test func mixedDimensionsAreReported() throws {
        var bytes: [UInt8] = []
        appendLittleEndian(Int32(2), to: &bytes); bytes += [UInt8](repeating: 0, count: 8)
        appendLittleEndian(Int32(1), to: &bytes); bytes += [UInt8](repeating: 0, count: 4)
        appendLittleEndian(Int32(1), to: &bytes); bytes += [UInt8](repeating: 0, count: 4)
        let path = temporaryPath("mixed.fvecs")
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(throws: DatasetError.inconsistentDimension(path: path, record: 1, expected: 2, got: 1)) { try VectorFiles.read(path) }
    }

    @Test func nanInAFileIsReportedWithItsRow() throws {
        let path = temporaryPath("nan.fvecs")
        try VectorFiles.write(try Matrix(dimension: 2, values: [1, 2, 3, .nan]), to: path)
        #expect(throws: DatasetError.nonFinite(path: path, row: 1)) { try VectorFiles.read(path) }
    }

    @Test func npyHeaderProblemsAreReported() throws {
        let path = temporaryPath("cut.npy")
        try VectorFiles.write(Self.sample, to: path)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        try bytes.prefix(bytes.count - 4).write(to: URL(fileURLWithPath: path))
        #expect(throws: DatasetError.self) { try VectorFiles.read(path) }
        let int64 = temporaryPath("int.npy")
        var header = "{'descr': '<i8', 'fortran_order': False, 'shape': (1, 1), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var raw = NumpyFormat.magic + [1, 0]
        appendLittleEndian(UInt16(header.utf8.count), to: &raw)
        raw += Array(header.utf8) + [UInt8](repeating: 0, count: 8)
        try Data(raw).write(to: URL(fileURLWithPath: int64))
        #expect(throws: DatasetError.malformed(path: int64, detail: "dtype '<i8' is not supported: use float32 or uint8")) {
            try VectorFiles.read(int64)
        }
    }

    @Test func fashionMNISTLoadsFromTheDebianPackage() throws {
        let dataset = try DatasetCatalog.load("fashion-mnist")
        #expect(dataset.base.rowCount == 60_000 && dataset.base.dimension == 784)
        #expect(dataset.queries.rowCount == 10_000)
        #expect(dataset.baseLabels?.count == 60_000 && Set(dataset.baseLabels!) == Set(0 ..< 10))
        #expect(dataset.base.values.allSatisfy { $0 >= 0 && $0 <= 1 })
    }

    @Test func truncatedGzipIsReported() throws {
        let source = DatasetCatalog.fashionMNISTDirectory + "/t10k-labels-idx1-ubyte.gz"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: source))
        let path = temporaryPath("cut-idx1-ubyte.gz")
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: path))
        #expect(throws: DatasetError.self) { try IDXFormat.readLabels(path) }
    }

    @Test func unknownDatasetNamesAndSpecsAreReported() {
        #expect(throws: DatasetError.fileNotFound("imagenet")) { try DatasetCatalog.load("imagenet") }
        #expect(throws: DatasetError.invalidSpec("unknown key \"x\" (keys: n, q, train, d, classes, noise, spectrum, popularity, seed)")) {
            try DatasetCatalog.parseSynthetic("synthetic:x=1")
        }
        #expect(throws: DatasetError.invalidSpec("n=ten is not an integer")) { try DatasetCatalog.parseSynthetic("synthetic:n=ten") }
    }
}

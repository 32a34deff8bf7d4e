import Foundation
import VectorMath

/// A base set to index, queries to search and a training set, with labels when known.
public struct Dataset: Sendable {
    public var name: String
    public var base: Matrix
    public var baseLabels: [Int32]?
    public var queries: Matrix
    public var queryLabels: [Int32]?
    /// Vectors for training codebooks (the base set unless given separately).
    public var train: Matrix
}

/// Turns a dataset argument into vectors: a name (`fashion-mnist`), a synthetic spec
/// (`synthetic:n=100000,q=1000,d=128,classes=1000,seed=7`) or a file path.
public enum DatasetCatalog {
    /// Where Debian's `dataset-fashion-mnist` installs its files.
    public static var fashionMNISTDirectory: String {
        ProcessInfo.processInfo.environment["SIGHTLINE_FASHION_MNIST"] ?? "/usr/share/datasets/fashion-mnist"
    }

    /// Resolves `spec`; `queries` and `train` name separate files when `spec` is a path.
    public static func load(_ spec: String, queries: String? = nil, train: String? = nil) throws(DatasetError) -> Dataset {
        if spec == "fashion-mnist" {
            let directory = fashionMNISTDirectory
            let base = try IDXFormat.readImages("\(directory)/train-images-idx3-ubyte.gz")
            let baseLabels = try IDXFormat.readLabels("\(directory)/train-labels-idx1-ubyte.gz")
            let test = try IDXFormat.readImages("\(directory)/t10k-images-idx3-ubyte.gz")
            let testLabels = try IDXFormat.readLabels("\(directory)/t10k-labels-idx1-ubyte.gz")
            return Dataset(name: spec, base: base, baseLabels: baseLabels, queries: test, queryLabels: testLabels, train: base)
        }
        if spec.hasPrefix("synthetic") {
            let generator = try parseSynthetic(spec)
            let base = generator.generate(.index, range: 0 ..< generator.indexCount, threads: 0)
            let query = generator.generate(.query, range: 0 ..< generator.queryCount, threads: 0)
            let trainSet = generator.trainCount > 0
                ? generator.generate(.train, range: 0 ..< generator.trainCount, threads: 0).vectors : base.vectors
            return Dataset(name: spec, base: base.vectors, baseLabels: base.labels,
                           queries: query.vectors, queryLabels: query.labels, train: trainSet)
        }
        let base = try VectorFiles.read(spec)
        let queryMatrix = try queries.map { path throws(DatasetError) in try VectorFiles.read(path) } ?? base
        let trainMatrix = try train.map { path throws(DatasetError) in try VectorFiles.read(path) } ?? base
        let baseLabels = try optionalLabels(beside: spec)
        let queryLabels = try queries.map { path throws(DatasetError) in try optionalLabels(beside: path) } ?? baseLabels
        return Dataset(name: spec, base: base, baseLabels: baseLabels, queries: queryMatrix, queryLabels: queryLabels, train: trainMatrix)
    }

    /// Labels from `PATH.labels` (minus the vector extension) when that file exists.
    static func optionalLabels(beside path: String) throws(DatasetError) -> [Int32]? {
        let stem = (path as NSString).deletingPathExtension
        let labelPath = stem + ".labels"
        guard FileManager.default.fileExists(atPath: labelPath) else { return nil }
        return try VectorFiles.readLabels(labelPath)
    }

    /// Parses `synthetic:key=value,…` (keys: n, q, train, d, classes, noise, spectrum,
    /// popularity, seed) or `synthetic:gldv2[,key=value,…]` (the Google Landmarks v2 shape, e.g.
    /// `synthetic:gldv2,q=2000` for its first 2,000 queries). Unset keys keep `SyntheticLandmarks`
    /// defaults, except `train`, which defaults to 0 (train on the base set) outside gldv2.
    public static func parseSynthetic(_ spec: String) throws(DatasetError) -> SyntheticLandmarks {
        var generator = SyntheticLandmarks()
        generator.trainCount = 0
        let body = spec.dropFirst("synthetic".count).drop(while: { $0 == ":" })
        var pairs = body.split(separator: ",")
        if pairs.first == "gldv2" {
            generator = .gldv2
            pairs.removeFirst()
        }
        for pair in pairs where !pair.isEmpty {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw .invalidSpec("\"\(pair)\" is not key=value") }
            let key = parts[0], value = parts[1]
            func integer() throws(DatasetError) -> Int {
                guard let number = Int(value.replacingOccurrences(of: "_", with: "")) else {
                    throw .invalidSpec("\(key)=\(value) is not an integer")
                }
                return number
            }
            func real() throws(DatasetError) -> Double {
                guard let number = Double(value) else { throw .invalidSpec("\(key)=\(value) is not a number") }
                return number
            }
            switch key {
            case "n": generator.indexCount = try integer()
            case "q": generator.queryCount = try integer()
            case "train": generator.trainCount = try integer()
            case "d": generator.dimension = try integer()
            case "classes": generator.classCount = try integer()
            case "noise": generator.noiseScale = try real()
            case "spectrum": generator.spectrumExponent = try real()
            case "popularity": generator.popularityExponent = try real()
            case "seed": generator.seed = UInt64(try integer())
            default: throw .invalidSpec("unknown key \"\(key)\" (keys: n, q, train, d, classes, noise, spectrum, popularity, seed)")
            }
        }
        try generator.validate()
        guard generator.indexCount > 0, generator.queryCount > 0 else { throw .invalidSpec("n and q must be positive") }
        return generator
    }
}

import ArgumentParser
import Datasets
import ErrorKinds
import Foundation
import VectorIndex
import VectorMath
import Wire

/// Where the vectors come from.
struct DatasetOptions: ParsableArguments {
    @Option(name: .long, help: "Base set: fashion-mnist, synthetic:KEY=VALUE,… or a .fvecs/.bvecs/.npy/IDX path.")
    var dataset: String

    @Option(name: .long, help: "Query file, when --dataset is a path (default: the base set itself).")
    var queries: String?

    @Option(name: .long, help: "Training file, when --dataset is a path (default: the base set).")
    var train: String?

    func load() throws -> Dataset { try DatasetCatalog.load(dataset, queries: queries, train: train) }
}

/// The shape of an IVF-PQ index.
struct IndexShapeOptions: ParsableArguments {
    @Option(help: "Inverted lists (nlist). More lists: shorter scans, more centroids to rank.")
    var nlist: Int = 256

    @Option(help: """
        PQ sub-quantizers (M): codes per vector. Must divide the dimension. \
        Default: 16 (bench: the divisor of d nearest d/14, 56 for 784).
        """)
    var m: Int?

    @Option(name: .customLong("pq-bits"),
            help: """
                Bits per PQ code: 8 (256 sub-centroids) or 4 (16; scanned 32 codes at a time with SIMD shuffles, pair it with refine). \
                Default: 8 (bench: 4).
                """)
    var pqBits: Int?

    @Flag(name: .customLong("coarse-hnsw"),
          help: """
              Rank the coarse centroids through an HNSW graph over them \
              (for nlist 16384 and more, where ranking every centroid dominates a query).
              """)
    var coarseHNSW = false

    @Flag(help: """
        Learn an OPQ rotation of the residuals before PQ \
        (lower quantization error on correlated components; a d × d product per query).
        """)
    var opq = false

    @Option(help: "Distance: l2 (squared Euclidean) or ip (inner product; cosine on normalised vectors).")
    var metric: String = "l2"

    @Flag(help: "Keep full vectors for refine (4·d more bytes per vector).")
    var storeVectors = false

    @Option(name: .customLong("refine-codes"),
            help: """
                What refine reads: none, float (the full vectors, same as --store-vectors) \
                or sq8 (8-bit scalar codes, d bytes per vector). Default: none (bench: sq8 unless --store-vectors).
                """)
    var refineCodes: String?

    @Option(help: "k-means iterations for the coarse quantizer and each sub-quantizer.")
    var iterations: Int = 25

    @Option(help: "Seed for k-means initialisation and subsampling.")
    var seed: UInt64 = 1234

    /// The divisor of `dimension` nearest `dimension / 14` (ties: the smaller), at least 1: 56 for
    /// 784-d pixels, 8 for 128-d descriptors. Sub-vectors of about 14 components keep 4-bit codes
    /// cheap to scan while refine recovers the precision.
    static func automaticSubquantizers(dimension: Int) -> Int {
        let target = Double(dimension) / 14
        let divisors = (1 ... max(1, dimension)).filter { dimension % $0 == 0 }
        return divisors.min { abs(Double($0) - target) < abs(Double($1) - target) } ?? 1
    }

    /// `sightline bench`'s defaults: the configuration that reaches 10-recall@10 ≥ 0.95 on
    /// Fashion-MNIST (4-bit fast-scan, 8-bit refine codes, m from the dimension).
    func benchConfiguration(dimension: Int) throws -> IVFPQConfiguration {
        var options = self
        if options.m == nil { options.m = IndexShapeOptions.automaticSubquantizers(dimension: dimension) }
        if options.pqBits == nil { options.pqBits = 4 }
        if options.refineCodes == nil, !options.storeVectors { options.refineCodes = "sq8" }
        return try options.configuration(dimension: dimension)
    }

    func configuration(dimension: Int) throws -> IVFPQConfiguration {
        let m = self.m ?? 16, pqBits = self.pqBits ?? 8
        guard let parsed = Metric(rawValue: metric) else {
            throw SightlineError.badInput("unknown metric \"\(metric)\": use l2 or ip")
        }
        guard [nil, "none", "float", "sq8"].contains(refineCodes) else {
            throw SightlineError.badInput("unknown --refine-codes \"\(refineCodes!)\": use none, float or sq8")
        }
        guard !(storeVectors && refineCodes == "none") else {
            throw SightlineError.badInput("--store-vectors keeps the full vectors and --refine-codes none keeps nothing: choose one")
        }
        guard !(storeVectors && refineCodes == "sq8") else {
            throw SightlineError.badInput("--store-vectors keeps float vectors and --refine-codes sq8 keeps 8-bit codes: choose one")
        }
        return IVFPQConfiguration(dimension: dimension, listCount: nlist, subquantizerCount: m, metric: parsed,
                                  storesVectors: storeVectors || refineCodes == "float", bitsPerCode: pqBits,
                                  storesScalarCodes: refineCodes == "sq8", usesOPQ: opq, coarseGraph: coarseHNSW)
    }

    func training(threads: Int) -> IVFPQTraining {
        var training = IVFPQTraining()
        training.iterations = iterations
        training.seed = seed
        training.threads = resolvedThreadCount(threads)
        return training
    }
}

/// Parses "1,2,4,8" into integers.
func parseIntegerList(_ text: String, name: String) throws -> [Int] {
    let values = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
    guard !values.isEmpty, values.allSatisfy({ $0 != nil }) else {
        throw SightlineError.badInput("--\(name) \"\(text)\" is not a comma-separated list of integers")
    }
    return values.map { $0! }
}

/// Runs a command body; any error becomes one line on standard error and the exit status of its
/// kind (2: fix the input, 3: try again, 1: a bug), never a crash or a stack trace.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as ExitCode {
        throw error
    } catch {
        FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        throw ExitCode(ErrorKind(of: error).exitStatus)
    }
}

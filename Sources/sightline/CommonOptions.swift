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

    @Option(help: "PQ sub-quantizers (M): code bytes per vector. Must divide the dimension.")
    var m: Int = 16

    @Option(name: .customLong("pq-bits"),
            help: "Bits per PQ code: 8 (256 sub-centroids) or 4 (16; scanned 32 codes at a time with SIMD shuffles, pair it with --store-vectors and --refine).")
    var pqBits: Int = 8

    @Option(help: "Distance: l2 (squared Euclidean) or ip (inner product; cosine on normalised vectors).")
    var metric: String = "l2"

    @Flag(help: "Keep full vectors for refine (4·d more bytes per vector).")
    var storeVectors = false

    @Option(name: .customLong("refine-codes"),
            help: "What refine reads: float (the full vectors, same as --store-vectors) or sq8 (8-bit scalar codes, d bytes per vector).")
    var refineCodes: String?

    @Option(help: "k-means iterations for the coarse quantizer and each sub-quantizer.")
    var iterations: Int = 25

    @Option(help: "Seed for k-means initialisation and subsampling.")
    var seed: UInt64 = 1234

    func configuration(dimension: Int) throws -> IVFPQConfiguration {
        guard let parsed = Metric(rawValue: metric) else {
            throw SightlineError.badInput("unknown metric \"\(metric)\": use l2 or ip")
        }
        guard refineCodes == nil || refineCodes == "float" || refineCodes == "sq8" else {
            throw SightlineError.badInput("unknown --refine-codes \"\(refineCodes!)\": use float or sq8")
        }
        guard !(storeVectors && refineCodes == "sq8") else {
            throw SightlineError.badInput("--store-vectors keeps float vectors and --refine-codes sq8 keeps 8-bit codes: choose one")
        }
        return IVFPQConfiguration(dimension: dimension, listCount: nlist, subquantizerCount: m, metric: parsed,
                                  storesVectors: storeVectors || refineCodes == "float", bitsPerCode: pqBits,
                                  storesScalarCodes: refineCodes == "sq8")
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

import Foundation
import VectorMath

/// A deterministic generator of "landmarks-like" descriptors: many classes of very unequal size,
/// each item its class centre plus noise, L2-normalised, in a space whose variance decays by a
/// power law (as real CNN descriptors do after PCA), seen through a fixed random rotation.
///
/// Every item is a pure function of `(seed, split, item number)`, so any range of any split can be
/// produced alone, in chunks, on any thread: the Google-Landmarks-v2 shape (4.1M train, 762k
/// index, 118k queries) streams to disk without being held in memory.
///
/// Defaults and why:
/// - `dimension` 128, `classCount` 200,000: the GLDv2 scale.
/// - `popularityExponent` 0.5: class `c` is drawn with weight `(c + 1)^-0.5`, so the most popular
///   class is ~450× more frequent than the rarest (GLDv2 runs from 2 to ~10k images a class).
/// - `spectrumExponent` 1.0: component `j` (before rotation) has variance ∝ `(j + 1)^-1`, which
///   concentrates half the energy in the first ~10% of directions, like real descriptors;
///   isotropic noise would make every IVF index look hopeless.
/// - `noiseScale` 0.5: noise energy is a quarter of the centre energy, so nearest neighbours are
///   mostly of the same class but not trivially so.
public struct SyntheticLandmarks: Sendable, Equatable {
    public enum Split: UInt64, Sendable, CaseIterable {
        case train = 1, index = 2, query = 3
    }

    public var dimension = 128
    public var classCount = 200_000
    public var popularityExponent = 0.5
    public var spectrumExponent = 1.0
    public var noiseScale = 0.5
    public var seed: UInt64 = 42
    public var trainCount = 100_000
    public var indexCount = 100_000
    public var queryCount = 1_000

    public init() {}

    /// The Google Landmarks v2 shape.
    public static var gldv2: SyntheticLandmarks {
        var generator = SyntheticLandmarks()
        generator.trainCount = 4_132_914
        generator.indexCount = 761_757
        generator.queryCount = 117_577
        return generator
    }

    public func count(of split: Split) -> Int {
        switch split {
        case .train: return trainCount
        case .index: return indexCount
        case .query: return queryCount
        }
    }

    /// Throws when a parameter is outside what the generator supports.
    public func validate() throws(DatasetError) {
        guard dimension >= 2, dimension <= 4096 else { throw .invalidSpec("d = \(dimension) must be between 2 and 4096") }
        guard classCount >= 1 else { throw .invalidSpec("classes = \(classCount) must be at least 1") }
        guard trainCount >= 0, indexCount >= 0, queryCount >= 0 else { throw .invalidSpec("counts must not be negative") }
        guard noiseScale >= 0, noiseScale.isFinite else { throw .invalidSpec("noise must be a non-negative number") }
        guard popularityExponent >= 0, spectrumExponent >= 0 else { throw .invalidSpec("exponents must not be negative") }
    }

    /// Items `range` of `split`: vectors and class labels.
    /// - Complexity: `O(|range| · d²)` (the rotation, through BLAS) and `O(classCount)` once for
    ///   the class popularity table.
    public func generate(_ split: Split, range: Range<Int>, threads: Int = 1) -> (vectors: Matrix, labels: [Int32]) {
        // Rows are rotated in BLAS calls of `block` rows aligned to absolute item numbers, so an
        // item is always computed in the same call shape at the same position: the bits of a row
        // never depend on how a set is cut into chunks (a tail of a product may otherwise take
        // another kernel path).
        let block = 64
        let first = range.lowerBound / block * block
        let end = (range.upperBound + block - 1) / block * block
        let context = GeneratorContext.shared(for: self)
        let count = end - first
        var raw = Matrix(zeros: count, dimension: dimension)
        var labels = [Int32](repeating: 0, count: count)
        let dimension = self.dimension
        raw.withUnsafeMutableBufferPointer { rawBuffer in
            labels.withUnsafeMutableBufferPointer { labelBuffer in
                let rawOut = DisjointWrites(rawBuffer.baseAddress!)
                let labelOut = DisjointWrites(labelBuffer.baseAddress!)
                parallelFor(count, threads: threads, chunk: 256) { offset in
                    let item = first + offset
                    var generator = SeededGenerator(seed: seed, stream: split.rawValue << 40 | UInt64(item))
                    let label = context.drawClass(&generator)
                    labelOut.value[offset] = Int32(label)
                    var centreGenerator = SeededGenerator(seed: seed ^ 0xC3A5_C85C_97CB_3127, stream: UInt64(label))
                    let target = rawOut.value + offset * dimension
                    for j in 0 ..< dimension {
                        let scale = context.standardDeviations[j]
                        target[j] = Float(scale * (centreGenerator.nextGaussian() + noiseScale * generator.nextGaussian()))
                    }
                }
            }
        }
        var rotated = Matrix(zeros: count, dimension: dimension)
        raw.withUnsafeBufferPointer { source in
            context.rotation.withUnsafeBufferPointer { rotation in
                rotated.withUnsafeMutableBufferPointer { target in
                    for start in stride(from: 0, to: count, by: block) {
                        BLAS.multiplyTransposed(source.baseAddress! + start * dimension, rows: block, rotation.baseAddress!,
                                                rows: dimension, depth: dimension, into: target.baseAddress! + start * dimension)
                    }
                }
            }
        }
        let wanted = (range.lowerBound - first) ..< (range.upperBound - first)
        var vectors = rotated.slice(wanted)
        vectors.normalizeRows()
        return (vectors, Array(labels[wanted]))
    }
}

/// What every item of one generator configuration shares: the class popularity table, the
/// spectrum and the rotation. Built once per configuration and cached.
final class GeneratorContext: Sendable {
    let cumulativeWeights: [Double]
    let standardDeviations: [Double]
    /// `d × d` orthogonal matrix, row-major.
    let rotation: Matrix

    init(_ configuration: SyntheticLandmarks) {
        var total = 0.0
        cumulativeWeights = (0 ..< configuration.classCount).map { c in
            total += pow(Double(c + 1), -configuration.popularityExponent)
            return total
        }
        let variances = (0 ..< configuration.dimension).map { pow(Double($0 + 1), -configuration.spectrumExponent) }
        let sum = variances.reduce(0, +)
        standardDeviations = variances.map { ($0 / sum).squareRoot() }
        rotation = GeneratorContext.randomRotation(configuration.dimension, seed: configuration.seed ^ 0x9E37_79B9)
    }

    func drawClass(_ generator: inout SeededGenerator) -> Int {
        let target = generator.nextUnit() * cumulativeWeights[cumulativeWeights.count - 1]
        var low = 0, high = cumulativeWeights.count - 1
        while low < high {
            let middle = (low + high) / 2
            if cumulativeWeights[middle] > target { high = middle } else { low = middle + 1 }
        }
        return low
    }

    /// Gram–Schmidt on a Gaussian matrix: a uniformly random orthogonal matrix.
    static func randomRotation(_ dimension: Int, seed: UInt64) -> Matrix {
        var generator = SeededGenerator(seed: seed)
        var rows: [[Double]] = []
        while rows.count < dimension {
            var vector = (0 ..< dimension).map { _ in generator.nextGaussian() }
            for previous in rows {
                let projection = zip(vector, previous).reduce(0) { $0 + $1.0 * $1.1 }
                for j in 0 ..< dimension { vector[j] -= projection * previous[j] }
            }
            let norm = vector.reduce(0) { $0 + $1 * $1 }.squareRoot()
            guard norm > 1e-6 else { continue }
            rows.append(vector.map { $0 / norm })
        }
        var matrix = Matrix(zeros: dimension, dimension: dimension)
        for (index, row) in rows.enumerated() { matrix.setRow(index, row.map { Float($0) }) }
        return matrix
    }

    private static let cache = CacheBox()

    static func shared(for configuration: SyntheticLandmarks) -> GeneratorContext {
        cache.context(for: configuration)
    }
}

/// One cached context at a time (the configuration in use).
final class CacheBox: @unchecked Sendable {
    // Guarded by `lock`; @unchecked because NSLock-free Mutex needs a noncopyable stored value.
    private let lock = NSLock()
    private var key: SyntheticLandmarks?
    private var value: GeneratorContext?

    func context(for configuration: SyntheticLandmarks) -> GeneratorContext {
        lock.lock()
        defer { lock.unlock() }
        if key == configuration, let value { return value }
        let context = GeneratorContext(configuration)
        key = configuration
        value = context
        return context
    }
}

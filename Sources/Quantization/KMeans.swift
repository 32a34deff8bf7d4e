import VectorMath

/// How k-means picks its first centroids.
public enum KMeansInitialization: String, Sendable, CaseIterable {
    /// `k` distinct training vectors drawn at random (FAISS's default).
    case random
    /// k-means++ seeding (Arthur & Vassilvitskii): each next centroid drawn with probability
    /// proportional to its squared distance to the nearest chosen one. Costs `n · k · d` more.
    case kmeansPlusPlus = "kmeans++"
}

/// Parameters of Lloyd's k-means in squared L2.
public struct KMeansParameters: Sendable {
    /// Number of centroids (`k`; `nlist` when training a coarse quantizer).
    public var centroidCount: Int
    /// Lloyd iterations (`niter` in FAISS, default 25). Each costs `2 · n · k · d` flops.
    public var iterations: Int = 25
    public var seed: UInt64 = 1234
    public var initialization: KMeansInitialization = .random
    /// Training points are subsampled to `k × maxPointsPerCentroid` (FAISS: 256), which bounds
    /// time and memory with little loss in quality.
    public var maxPointsPerCentroid: Int = 256
    /// Threads for the assignment step.
    public var threads: Int = 1

    public init(centroidCount: Int) { self.centroidCount = centroidCount }
}

/// Trained centroids and how the objective evolved.
public struct KMeansResult: Sendable {
    /// `k × d` centroids.
    public var centroids: Matrix
    /// Sum of squared distances of the training points to their centroid, per iteration
    /// (measured at the assignment step, before the update).
    public var objectiveHistory: [Double]
    /// How many training points were used after subsampling.
    public var trainingPointCount: Int
    /// How many empty clusters were repaired by splitting.
    public var splitCount: Int
}

/// Trains k-means. Deterministic for a given seed, thread count and input.
/// - Parameter progress: called after each iteration with `(iteration, objective)`.
public func trainKMeans(
    _ data: Matrix,
    _ parameters: KMeansParameters,
    progress: (@Sendable (_ iteration: Int, _ objective: Double) -> Void)? = nil
) throws(QuantizationError) -> KMeansResult {
    let k = parameters.centroidCount
    guard k >= 1 else {
        throw .invalidParameter(name: "k", value: k, allowed: "use at least one centroid")
    }
    guard parameters.iterations >= 1 else {
        throw .invalidParameter(name: "iterations", value: parameters.iterations, allowed: "use at least 1")
    }
    guard data.rowCount >= k else {
        throw .tooFewTrainingVectors(needed: k, got: data.rowCount, what: "k-means with \(k) centroids")
    }
    do { try data.validateFinite("training") } catch { throw QuantizationError.from(error) }

    var generator = SeededGenerator(seed: parameters.seed)
    let cap = k * max(1, parameters.maxPointsPerCentroid)
    let points = data.rowCount > cap ? data.rows(at: generator.sample(cap, from: data.rowCount)) : data
    let count = points.rowCount

    var centroids: Matrix
    switch parameters.initialization {
    case .random:
        centroids = points.rows(at: generator.sample(k, from: count))
    case .kmeansPlusPlus:
        centroids = seedPlusPlus(points, k: k, generator: &generator)
    }

    var history: [Double] = []
    var splits = 0
    for iteration in 0 ..< parameters.iterations {
        let (labels, distances) = assignNearest(points, to: centroids, threads: parameters.threads)
        let objective = distances.reduce(0.0) { $0 + Double($1) }
        history.append(objective)

        var sizes = [Int](repeating: 0, count: k)
        updateCentroids(&centroids, points: points, labels: labels, sizes: &sizes)
        splits += splitEmptyClusters(&centroids, sizes: &sizes, generator: &generator)
        progress?(iteration + 1, objective)
    }
    return KMeansResult(centroids: centroids, objectiveHistory: history, trainingPointCount: count, splitCount: splits)
}

/// Moves each centroid to the mean of its points (empty clusters keep their old centroid until
/// they are split). Sums run in Double so that large clusters do not lose precision.
private func updateCentroids(_ centroids: inout Matrix, points: Matrix, labels: [Int32], sizes: inout [Int]) {
    let k = centroids.rowCount, dimension = points.dimension
    var sums = [Double](repeating: 0, count: k * dimension)
    sums.withUnsafeMutableBufferPointer { sumBuffer in
        sizes.withUnsafeMutableBufferPointer { sizeBuffer in
            labels.withUnsafeBufferPointer { labelBuffer in
                points.withUnsafeBufferPointer { buffer in
                    let sum = sumBuffer.baseAddress!, source = buffer.baseAddress!
                    for row in 0 ..< points.rowCount {
                        let label = Int(labelBuffer[row])
                        sizeBuffer[label] &+= 1
                        let target = sum + label * dimension, point = source + row * dimension
                        for j in 0 ..< dimension { target[j] += Double(point[j]) }
                    }
                }
            }
        }
        centroids.withUnsafeMutableBufferPointer { buffer in
            for c in 0 ..< k where sizes[c] > 0 {
                let scale = 1.0 / Double(sizes[c])
                for j in 0 ..< dimension { buffer[c * dimension + j] = Float(sumBuffer[c * dimension + j] * scale) }
            }
        }
    }
}

/// Gives each empty cluster half of the largest cluster: the two centroids become symmetric
/// perturbations of the old one (as FAISS does), and the next assignment splits its points.
private func splitEmptyClusters(
    _ centroids: inout Matrix, sizes: inout [Int], generator: inout SeededGenerator
) -> Int {
    let dimension = centroids.dimension
    var repaired = 0
    for empty in sizes.indices where sizes[empty] == 0 {
        guard let largest = sizes.indices.max(by: { sizes[$0] < sizes[$1] }), sizes[largest] > 1 else { break }
        let epsilon: Float = 1.0 / 1024
        centroids.withUnsafeMutableBufferPointer { buffer in
            for j in 0 ..< dimension {
                let value = buffer[largest * dimension + j]
                let sign: Float = generator.next() & 1 == 0 ? 1 : -1
                buffer[empty * dimension + j] = value * (1 + sign * epsilon)
                buffer[largest * dimension + j] = value * (1 - sign * epsilon)
            }
        }
        sizes[empty] = sizes[largest] / 2
        sizes[largest] -= sizes[empty]
        repaired += 1
    }
    return repaired
}

private func seedPlusPlus(_ points: Matrix, k: Int, generator: inout SeededGenerator) -> Matrix {
    let count = points.rowCount, dimension = points.dimension
    var chosen = [generator.nextInt(below: count)]
    var nearest = [Float](repeating: .infinity, count: count)
    points.withUnsafeBufferPointer { buffer in
        let base = buffer.baseAddress!
        while chosen.count < k {
            let last = base + chosen[chosen.count - 1] * dimension
            var total = 0.0
            for row in 0 ..< count {
                let distance = squaredL2(base + row * dimension, last, dimension)
                if distance < nearest[row] { nearest[row] = distance }
                total += Double(nearest[row])
            }
            var target = generator.nextUnit() * total
            var pick = count - 1
            if total > 0 {
                for row in 0 ..< count {
                    target -= Double(nearest[row])
                    if target < 0 { pick = row; break }
                }
            } else {
                pick = generator.nextInt(below: count)
            }
            chosen.append(pick)
        }
    }
    return points.rows(at: chosen)
}

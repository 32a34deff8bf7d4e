import VectorMath

/// The metric-learning losses Sightline trains descriptors with.
public enum LossKind: String, CaseIterable, Sendable {
    case contrastive, triplet, center, sphereface, cosface, arcface

    /// Pair and triplet losses need class-balanced batches (P classes × K images).
    public var needsBalancedBatches: Bool { self == .contrastive || self == .triplet }
}

/// A loss over a batch of embeddings and their labels. `lossAndGradient` returns the mean loss
/// and its gradient with respect to each embedding, and accumulates gradients of the loss's own
/// parameters (class weights), which the optimiser then updates with the network's.
public protocol EmbeddingLoss: AnyObject {
    var parameters: [Parameter] { get }
    func lossAndGradient(_ embeddings: Matrix, labels: [Int32]) -> (loss: Float, gradient: Matrix)
}

/// Euclidean distances between all rows of `x` (batch × batch), for the pair and triplet losses.
func pairwiseDistances(_ x: Matrix) -> [Float] {
    let n = x.rowCount, d = x.dimension
    var distances = [Float](repeating: 0, count: n * n)
    x.withUnsafeBufferPointer { buffer in
        let base = buffer.baseAddress!
        for i in 0 ..< n {
            for j in i + 1 ..< n {
                let value = squaredL2(base + i * d, base + j * d, d).squareRoot()
                distances[i * n + j] = value
                distances[j * n + i] = value
            }
        }
    }
    return distances
}

/// Adds `scale · ∂d(i, j)/∂x` to the gradient rows of i and j, where d is the Euclidean distance.
func accumulateDistanceGradient(_ x: Matrix, _ i: Int, _ j: Int, distance: Float, scale: Float, into gradient: inout [Float]) {
    guard distance > 1e-12 else { return }
    let d = x.dimension
    for k in 0 ..< d {
        let direction = (x.values[i * d + k] - x.values[j * d + k]) / distance * scale
        gradient[i * d + k] += direction
        gradient[j * d + k] -= direction
    }
}

/// Contrastive loss (Hadsell, Chopra & LeCun 2006) over every pair of the batch:
/// `y·[d − m_pos]₊ + (1 − y)·[m_neg − d]₊`, averaged over pairs. Defaults for unit-length
/// embeddings: `m_pos` 0, `m_neg` 1.
public final class ContrastiveLoss: EmbeddingLoss {
    public var positiveMargin: Float
    public var negativeMargin: Float
    public init(positiveMargin: Float = 0, negativeMargin: Float = 1) {
        self.positiveMargin = positiveMargin
        self.negativeMargin = negativeMargin
    }
    public var parameters: [Parameter] { [] }

    public func lossAndGradient(_ embeddings: Matrix, labels: [Int32]) -> (loss: Float, gradient: Matrix) {
        let n = embeddings.rowCount
        let distances = pairwiseDistances(embeddings)
        var gradient = [Float](repeating: 0, count: embeddings.values.count)
        let pairs = Float(max(1, n * (n - 1) / 2))
        var loss: Float = 0
        for i in 0 ..< n {
            for j in i + 1 ..< n {
                let d = distances[i * n + j]
                if labels[i] == labels[j] {
                    if d > positiveMargin {
                        loss += d - positiveMargin
                        accumulateDistanceGradient(embeddings, i, j, distance: d, scale: 1 / pairs, into: &gradient)
                    }
                } else if d < negativeMargin {
                    loss += negativeMargin - d
                    accumulateDistanceGradient(embeddings, i, j, distance: d, scale: -1 / pairs, into: &gradient)
                }
            }
        }
        return (loss / pairs, try! Matrix(dimension: embeddings.dimension, values: gradient))
    }
}

/// How triplets are chosen in a batch.
public enum TripletMining: String, Sendable, CaseIterable {
    /// Per anchor: the farthest positive and the nearest negative (Hermans et al. 2017).
    case batchHard = "batch-hard"
    /// Per anchor–positive pair: the nearest negative that is still farther than the positive
    /// (FaceNet); the hardest negative when none is.
    case semiHard = "semi-hard"
}

/// Triplet loss `[d(a,p) − d(a,n) + m]₊` on Euclidean distances. Default margin 0.1: on unit
/// vectors distances lie in [0, 2], and 0.05–0.2 is the range used for normalised embeddings.
public final class TripletLoss: EmbeddingLoss {
    public var margin: Float
    public var mining: TripletMining
    public init(margin: Float = 0.1, mining: TripletMining = .batchHard) {
        self.margin = margin
        self.mining = mining
    }
    public var parameters: [Parameter] { [] }

    public func lossAndGradient(_ embeddings: Matrix, labels: [Int32]) -> (loss: Float, gradient: Matrix) {
        let n = embeddings.rowCount
        let distances = pairwiseDistances(embeddings)
        var triplets: [(Int, Int, Int)] = []
        for anchor in 0 ..< n {
            let positives = (0 ..< n).filter { $0 != anchor && labels[$0] == labels[anchor] }
            let negatives = (0 ..< n).filter { labels[$0] != labels[anchor] }
            guard !positives.isEmpty, !negatives.isEmpty else { continue }
            let hardestNegative = negatives.min { distances[anchor * n + $0] < distances[anchor * n + $1] }!
            switch mining {
            case .batchHard:
                let hardestPositive = positives.max { distances[anchor * n + $0] < distances[anchor * n + $1] }!
                triplets.append((anchor, hardestPositive, hardestNegative))
            case .semiHard:
                for positive in positives {
                    let dp = distances[anchor * n + positive]
                    let semiHard = negatives.filter { distances[anchor * n + $0] > dp }
                        .min { distances[anchor * n + $0] < distances[anchor * n + $1] }
                    triplets.append((anchor, positive, semiHard ?? hardestNegative))
                }
            }
        }
        var gradient = [Float](repeating: 0, count: embeddings.values.count)
        var loss: Float = 0
        let count = Float(max(1, triplets.count))
        for (a, p, q) in triplets {
            let dp = distances[a * n + p], dn = distances[a * n + q]
            let value = dp - dn + margin
            guard value > 0 else { continue }
            loss += value
            accumulateDistanceGradient(embeddings, a, p, distance: dp, scale: 1 / count, into: &gradient)
            accumulateDistanceGradient(embeddings, a, q, distance: dn, scale: -1 / count, into: &gradient)
        }
        return (loss / count, try! Matrix(dimension: embeddings.dimension, values: gradient))
    }
}

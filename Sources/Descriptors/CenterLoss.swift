import RealModule
import VectorMath

/// Center loss (Wen et al. 2016): softmax cross-entropy through a linear classifier plus
/// `λ·½‖x − c_y‖²` pulling each embedding to its class centre. Centres are not trained by the
/// optimiser: after each batch they move towards their members with their own rate α
/// (`c_y ← c_y − α·(c_y − mean of the batch's x with label y)`). Defaults λ 0.01, α 0.5.
public final class CenterLoss: EmbeddingLoss {
    public let weights: Parameter
    public let bias: Parameter
    public private(set) var centres: [Float]
    public var lambda: Float
    public var centreRate: Float
    /// When false, centres stay fixed (gradient checks).
    public var updatesCentres = true

    public init(classCount: Int, dimension: Int, lambda: Float = 0.01, centreRate: Float = 0.5, generator: inout SeededGenerator) {
        let scale = (1.0 / Double(dimension)).squareRoot()
        weights = Parameter(name: "classifier.weight", rows: classCount, columns: dimension,
                            values: (0 ..< classCount * dimension).map { _ in Float(generator.nextGaussian() * scale) }, decays: true)
        bias = Parameter(name: "classifier.bias", rows: 1, columns: classCount, values: [Float](repeating: 0, count: classCount),
                         decays: false)
        centres = [Float](repeating: 0, count: classCount * dimension)
        self.lambda = lambda
        self.centreRate = centreRate
    }

    init(weights: Parameter, bias: Parameter, centres: [Float], lambda: Float, centreRate: Float) {
        self.weights = weights
        self.bias = bias
        self.centres = centres
        self.lambda = lambda
        self.centreRate = centreRate
    }

    public var parameters: [Parameter] { [weights, bias] }

    public func lossAndGradient(_ embeddings: Matrix, labels: [Int32]) -> (loss: Float, gradient: Matrix) {
        let n = embeddings.rowCount, d = embeddings.dimension, classes = weights.rows
        var logits = [Float](repeating: 0, count: n * classes)
        embeddings.withUnsafeBufferPointer { x in
            weights.values.withUnsafeBufferPointer { w in
                logits.withUnsafeMutableBufferPointer { out in
                    BLAS.gemm(transposeA: false, transposeB: true, m: n, n: classes, k: d,
                              x.baseAddress!, w.baseAddress!, into: out.baseAddress!)
                }
            }
        }
        var logitGradient = [Float](repeating: 0, count: n * classes)
        var loss: Float = 0
        for row in 0 ..< n {
            let y = Int(labels[row])
            let values = (0 ..< classes).map { logits[row * classes + $0] + bias.values[$0] }
            let largest = values.max()!
            let exps = values.map { Float.exp($0 - largest) }
            let total = exps.reduce(0, +)
            loss += -(values[y] - largest - Float.log(total))
            for c in 0 ..< classes { logitGradient[row * classes + c] = (exps[c] / total - (c == y ? 1 : 0)) / Float(n) }
        }
        var inputGradient = [Float](repeating: 0, count: n * d)
        logitGradient.withUnsafeBufferPointer { g in
            weights.values.withUnsafeBufferPointer { w in
                inputGradient.withUnsafeMutableBufferPointer { dx in
                    BLAS.gemm(transposeA: false, transposeB: false, m: n, n: d, k: classes,
                              g.baseAddress!, w.baseAddress!, into: dx.baseAddress!)
                }
            }
            embeddings.withUnsafeBufferPointer { x in
                weights.gradient.withUnsafeMutableBufferPointer { dw in
                    BLAS.gemm(transposeA: true, transposeB: false, m: classes, n: d, k: n,
                              g.baseAddress!, x.baseAddress!, beta: 1, into: dw.baseAddress!)
                }
            }
            for row in 0 ..< n { for c in 0 ..< classes { bias.gradient[c] += g[row * classes + c] } }
        }
        // The centre term, averaged over the batch.
        var centreSums = [Float](repeating: 0, count: classes * d), centreCounts = [Int](repeating: 0, count: classes)
        for row in 0 ..< n {
            let y = Int(labels[row])
            centreCounts[y] += 1
            for k in 0 ..< d {
                let difference = embeddings.values[row * d + k] - centres[y * d + k]
                loss += lambda * 0.5 * difference * difference
                inputGradient[row * d + k] += lambda * difference / Float(n)
                centreSums[y * d + k] += difference
            }
        }
        if updatesCentres {
            for c in 0 ..< classes where centreCounts[c] > 0 {
                for k in 0 ..< d { centres[c * d + k] += centreRate * centreSums[c * d + k] / Float(1 + centreCounts[c]) }
            }
        }
        return (loss / Float(n), try! Matrix(dimension: d, values: inputGradient))
    }
}

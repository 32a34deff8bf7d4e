import RealModule
import VectorMath

/// The angular-margin softmax family on unit-length embeddings and L2-normalised class weights:
/// `cos θ_j = ⟨x, w_j / ‖w_j‖⟩`, the target logit gets a margin, the others stay `s·cos θ_j`,
/// then softmax cross-entropy.
public enum AngularMargin: Sendable, Equatable {
    /// CosFace / LMCL (Wang et al. 2018): `s·(cos θ_y − m)`; defaults s 64, m 0.35.
    case cosFace(scale: Float, margin: Float)
    /// ArcFace (Deng et al. 2019): `s·cos(θ_y + m)`; when `θ + m > π` the usual fallback
    /// `cos θ − m·sin(π − m)` keeps the logit monotonic. Defaults s 64, m 0.5.
    case arcFace(scale: Float, margin: Float)
    /// SphereFace / A-Softmax (Liu et al. 2017): `ψ(θ) = (−1)^k cos(mθ) − 2k` on
    /// `θ ∈ [kπ/m, (k+1)π/m]`, m 4, blended with `cos θ` by the annealing weight λ as in the
    /// paper: `(λ cos θ + ψ(θ)) / (1 + λ)`; here with normalised features and a scale s.
    case sphereFace(scale: Float, margin: Int, lambda: Float)
}

public final class MarginSoftmaxLoss: EmbeddingLoss {
    public let weights: Parameter
    public var margin: AngularMargin

    public init(classCount: Int, dimension: Int, margin: AngularMargin, generator: inout SeededGenerator) {
        weights = Parameter(name: "classifier.weight", rows: classCount, columns: dimension,
                            values: (0 ..< classCount * dimension).map { _ in Float(generator.nextGaussian()) }, decays: false)
        self.margin = margin
    }

    init(weights: Parameter, margin: AngularMargin) {
        self.weights = weights
        self.margin = margin
    }

    public var parameters: [Parameter] { [weights] }

    var scale: Float {
        switch margin {
        case .cosFace(let s, _), .arcFace(let s, _), .sphereFace(let s, _, _): return s
        }
    }

    /// The target logit's value (before the scale) and its derivative with respect to `cos θ_y`.
    func target(_ c: Float) -> (Float, Float) {
        switch margin {
        case .cosFace(_, let m):
            return (c - m, 1)
        case .arcFace(_, let m):
            let threshold = Float.cos(Float.pi - m)
            if c > threshold {
                let sine = max(1e-6, (1 - c * c)).squareRoot()
                return (c * Float.cos(m) - sine * Float.sin(m), Float.cos(m) + c * Float.sin(m) / sine)
            }
            return (c - m * Float.sin(Float.pi - m), 1)
        case .sphereFace(_, let m, let lambda):
            let clamped = min(1, max(-1, c))
            let theta = Float.acos(clamped)
            let k = min(m - 1, Int(theta * Float(m) / Float.pi))
            let sign: Float = k % 2 == 0 ? 1 : -1
            let (cosMTheta, derivative) = chebyshev(m, clamped)
            let psi = sign * cosMTheta - 2 * Float(k)
            return ((lambda * clamped + psi) / (1 + lambda), (lambda + sign * derivative) / (1 + lambda))
        }
    }

    /// `cos(mθ)` as a polynomial in `c = cos θ`, and its derivative in `c`.
    func chebyshev(_ m: Int, _ c: Float) -> (Float, Float) {
        var previous: Float = 1, current = c, previousDerivative: Float = 0, currentDerivative: Float = 1
        if m == 0 { return (1, 0) }
        for _ in 1 ..< m {
            let next = 2 * c * current - previous
            let nextDerivative = 2 * current + 2 * c * currentDerivative - previousDerivative
            (previous, current, previousDerivative, currentDerivative) = (current, next, currentDerivative, nextDerivative)
        }
        return (current, currentDerivative)
    }

    public func lossAndGradient(_ embeddings: Matrix, labels: [Int32]) -> (loss: Float, gradient: Matrix) {
        let n = embeddings.rowCount, d = embeddings.dimension, classes = weights.rows, s = scale
        // Normalised class weights.
        var norms = [Float](repeating: 0, count: classes)
        var unit = weights.values
        for c in 0 ..< classes {
            var sum: Float = 0
            for k in 0 ..< d { sum += unit[c * d + k] * unit[c * d + k] }
            norms[c] = max(1e-12, sum.squareRoot())
            for k in 0 ..< d { unit[c * d + k] /= norms[c] }
        }
        var cosines = [Float](repeating: 0, count: n * classes)
        embeddings.withUnsafeBufferPointer { x in
            unit.withUnsafeBufferPointer { w in
                cosines.withUnsafeMutableBufferPointer { out in
                    BLAS.gemm(transposeA: false, transposeB: true, m: n, n: classes, k: d,
                              x.baseAddress!, w.baseAddress!, into: out.baseAddress!)
                }
            }
        }
        // Softmax cross-entropy on the margin logits; dL/dcos per entry.
        var cosineGradient = [Float](repeating: 0, count: n * classes)
        var loss: Float = 0
        for row in 0 ..< n {
            let y = Int(labels[row])
            let (targetValue, targetDerivative) = target(cosines[row * classes + y])
            var logits = (0 ..< classes).map { s * cosines[row * classes + $0] }
            logits[y] = s * targetValue
            let largest = logits.max()!
            let exps = logits.map { Float.exp($0 - largest) }
            let total = exps.reduce(0, +)
            loss += -(logits[y] - largest - Float.log(total))
            for c in 0 ..< classes {
                let probability = exps[c] / total
                let dLogit = (probability - (c == y ? 1 : 0)) / Float(n)
                cosineGradient[row * classes + c] = dLogit * s * (c == y ? targetDerivative : 1)
            }
        }
        // dX = dcos · Ŵ ; dŴ = dcosᵀ · X ; dW = (dŴ − ŵ⟨ŵ, dŴ⟩) / ‖w‖.
        var inputGradient = [Float](repeating: 0, count: n * d)
        var unitGradient = [Float](repeating: 0, count: classes * d)
        cosineGradient.withUnsafeBufferPointer { g in
            unit.withUnsafeBufferPointer { w in
                inputGradient.withUnsafeMutableBufferPointer { dx in
                    BLAS.gemm(transposeA: false, transposeB: false, m: n, n: d, k: classes,
                              g.baseAddress!, w.baseAddress!, into: dx.baseAddress!)
                }
            }
            embeddings.withUnsafeBufferPointer { x in
                unitGradient.withUnsafeMutableBufferPointer { dw in
                    BLAS.gemm(transposeA: true, transposeB: false, m: classes, n: d, k: n,
                              g.baseAddress!, x.baseAddress!, into: dw.baseAddress!)
                }
            }
        }
        for c in 0 ..< classes {
            var projection: Float = 0
            for k in 0 ..< d { projection += unit[c * d + k] * unitGradient[c * d + k] }
            for k in 0 ..< d { weights.gradient[c * d + k] += (unitGradient[c * d + k] - unit[c * d + k] * projection) / norms[c] }
        }
        return (loss / Float(n), try! Matrix(dimension: d, values: inputGradient))
    }
}

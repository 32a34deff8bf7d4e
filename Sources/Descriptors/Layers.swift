import RealModule
import VectorMath

/// One stage of the network. `forward` keeps what `backward` needs; `backward` takes the loss
/// gradient with respect to the output, accumulates parameter gradients and returns the gradient
/// with respect to the input. Activations are row-major `batch × features` matrices.
public protocol Layer: AnyObject {
    var parameters: [Parameter] { get }
    var outputSize: Int { get }
    func forward(_ input: Matrix, training: Bool) -> Matrix
    func backward(_ gradient: Matrix) -> Matrix
}

/// `y = x·Wᵀ + b` with `W` of shape `out × in`. Cost: `2·batch·in·out` flops each way.
public final class Dense: Layer {
    public let weight: Parameter
    public let bias: Parameter
    private var input = Matrix(zeros: 0, dimension: 1)
    /// Threads for the products (see `ParallelProducts`).
    public var threads = 1

    public init(inputSize: Int, outputSize: Int, generator: inout SeededGenerator) {
        weight = Parameter.heNormal(name: "dense.weight", rows: outputSize, columns: inputSize, generator: &generator)
        bias = Parameter(name: "dense.bias", rows: 1, columns: outputSize, values: [Float](repeating: 0, count: outputSize), decays: false)
    }

    public var parameters: [Parameter] { [weight, bias] }
    public var outputSize: Int { weight.rows }

    public func forward(_ input: Matrix, training: Bool) -> Matrix {
        self.input = input
        let batch = input.rowCount, inSize = weight.columns, outSize = weight.rows
        var output = Matrix(zeros: batch, dimension: outSize)
        input.withUnsafeBufferPointer { x in
            weight.values.withUnsafeBufferPointer { w in
                output.withUnsafeMutableBufferPointer { y in
                    ParallelProducts.rowSplit(threads: threads, transposeB: true, m: batch, n: outSize, k: inSize,
                                              x.baseAddress!, w.baseAddress!, into: y.baseAddress!)
                    for row in 0 ..< batch { for j in 0 ..< outSize { y[row * outSize + j] += bias.values[j] } }
                }
            }
        }
        return output
    }

    public func backward(_ gradient: Matrix) -> Matrix {
        let batch = gradient.rowCount, inSize = weight.columns, outSize = weight.rows
        var inputGradient = Matrix(zeros: batch, dimension: inSize)
        gradient.withUnsafeBufferPointer { dy in
            input.withUnsafeBufferPointer { x in
                // dW += dYᵀ · X
                weight.gradient.withUnsafeMutableBufferPointer { dw in
                    ParallelProducts.accumulateTransposed(threads: threads, m: outSize, n: inSize, k: batch,
                                                          dy.baseAddress!, x.baseAddress!, into: dw.baseAddress!)
                }
                weight.values.withUnsafeBufferPointer { w in
                    inputGradient.withUnsafeMutableBufferPointer { dx in
                        ParallelProducts.rowSplit(threads: threads, transposeB: false, m: batch, n: inSize, k: outSize,
                                                  dy.baseAddress!, w.baseAddress!, into: dx.baseAddress!)
                    }
                }
                for row in 0 ..< batch { for j in 0 ..< outSize { bias.gradient[j] += dy[row * outSize + j] } }
            }
        }
        return inputGradient
    }
}

/// `max(0, x)`.
public final class ReLU: Layer {
    /// The forward output doubles as the mask: the gradient passes where it is not exactly 0.
    private var output = Matrix(zeros: 0, dimension: 1)
    private let size: Int
    public init(size: Int) { self.size = size }
    public var parameters: [Parameter] { [] }
    public var outputSize: Int { size }

    public func forward(_ input: Matrix, training: Bool) -> Matrix {
        var result = input
        // `x <= 0` is false for NaN, so a NaN keeps flowing (it must surface in the loss, not vanish as 0).
        result.withUnsafeMutableBufferPointer { y in for i in 0 ..< y.count { y[i] = y[i] <= 0 ? 0 : y[i] } }
        output = result
        return result
    }

    public func backward(_ gradient: Matrix) -> Matrix {
        var result = gradient
        output.withUnsafeBufferPointer { y in
            result.withUnsafeMutableBufferPointer { g in for i in 0 ..< g.count { g[i] = y[i] == 0 ? 0 : g[i] } }
        }
        return result
    }
}

/// Batch normalisation over the batch (Ioffe & Szegedy 2015): training uses the batch's mean and
/// variance and updates running averages (momentum 0.1); inference uses the running averages.
public final class BatchNorm: Layer {
    public let scale: Parameter
    public let shift: Parameter
    public private(set) var runningMean: [Float]
    public private(set) var runningVariance: [Float]
    let epsilon: Float = 1e-5
    let momentum: Float = 0.1
    private var normalized = Matrix(zeros: 0, dimension: 1)
    private var inverseDeviation: [Float] = []

    public init(size: Int) {
        scale = Parameter(name: "bn.scale", rows: 1, columns: size, values: [Float](repeating: 1, count: size), decays: false)
        shift = Parameter(name: "bn.shift", rows: 1, columns: size, values: [Float](repeating: 0, count: size), decays: false)
        runningMean = [Float](repeating: 0, count: size)
        runningVariance = [Float](repeating: 1, count: size)
    }

    init(scale: Parameter, shift: Parameter, runningMean: [Float], runningVariance: [Float]) {
        self.scale = scale
        self.shift = shift
        self.runningMean = runningMean
        self.runningVariance = runningVariance
    }

    public var parameters: [Parameter] { [scale, shift] }
    public var outputSize: Int { scale.columns }

    func setRunning(mean: [Float], variance: [Float]) {
        runningMean = mean
        runningVariance = variance
    }

    public func forward(_ input: Matrix, training: Bool) -> Matrix {
        let batch = input.rowCount, size = outputSize
        var mean = [Float](repeating: 0, count: size), variance = [Float](repeating: 0, count: size)
        if training {
            for row in 0 ..< batch { for j in 0 ..< size { mean[j] += input.values[row * size + j] } }
            for j in 0 ..< size { mean[j] /= Float(batch) }
            for row in 0 ..< batch {
                for j in 0 ..< size { let d = input.values[row * size + j] - mean[j]; variance[j] += d * d }
            }
            for j in 0 ..< size { variance[j] /= Float(batch) }
            for j in 0 ..< size {
                runningMean[j] = (1 - momentum) * runningMean[j] + momentum * mean[j]
                let unbiased = batch > 1 ? variance[j] * Float(batch) / Float(batch - 1) : variance[j]
                runningVariance[j] = (1 - momentum) * runningVariance[j] + momentum * unbiased
            }
        } else {
            mean = runningMean
            variance = runningVariance
        }
        inverseDeviation = variance.map { 1 / ($0 + epsilon).squareRoot() }
        var xhat = input.values, output = input.values
        for row in 0 ..< batch {
            for j in 0 ..< size {
                let x = (input.values[row * size + j] - mean[j]) * inverseDeviation[j]
                xhat[row * size + j] = x
                output[row * size + j] = x * scale.values[j] + shift.values[j]
            }
        }
        // Shapes are those of `input`, so these cannot fail.
        normalized = try! Matrix(dimension: size, values: xhat)
        return try! Matrix(dimension: size, values: output)
    }

    /// The standard batch-norm backward pass through the batch statistics.
    public func backward(_ gradient: Matrix) -> Matrix {
        let batch = gradient.rowCount, size = outputSize
        var sumGradient = [Float](repeating: 0, count: size), sumGradientX = [Float](repeating: 0, count: size)
        for row in 0 ..< batch {
            for j in 0 ..< size {
                let g = gradient.values[row * size + j]
                sumGradient[j] += g
                sumGradientX[j] += g * normalized.values[row * size + j]
            }
        }
        for j in 0 ..< size {
            shift.gradient[j] += sumGradient[j]
            scale.gradient[j] += sumGradientX[j]
        }
        var result = gradient
        let n = Float(batch)
        result.withUnsafeMutableBufferPointer { dx in
            for row in 0 ..< batch {
                for j in 0 ..< size {
                    let g = gradient.values[row * size + j], xhat = normalized.values[row * size + j]
                    dx[row * size + j] = scale.values[j] * inverseDeviation[j] / n * (n * g - sumGradient[j] - xhat * sumGradientX[j])
                }
            }
        }
        return result
    }
}

/// Scales each row to unit length: the descriptor lives on the sphere, where L2 and cosine agree.
public final class L2Normalize: Layer {
    private var output = Matrix(zeros: 0, dimension: 1)
    private var norms: [Float] = []
    private let size: Int
    public init(size: Int) { self.size = size }
    public var parameters: [Parameter] { [] }
    public var outputSize: Int { size }

    public func forward(_ input: Matrix, training: Bool) -> Matrix {
        var result = input
        norms = (0 ..< input.rowCount).map { row in
            max(1e-12, input.row(row).reduce(Float(0)) { $0 + $1 * $1 }.squareRoot())
        }
        result.withUnsafeMutableBufferPointer { y in
            for row in 0 ..< input.rowCount { for j in 0 ..< size { y[row * size + j] /= norms[row] } }
        }
        output = result
        return result
    }

    /// `dx = (g − y·⟨y, g⟩) / ‖x‖`.
    public func backward(_ gradient: Matrix) -> Matrix {
        var result = gradient
        result.withUnsafeMutableBufferPointer { dx in
            for row in 0 ..< gradient.rowCount {
                var projection: Float = 0
                for j in 0 ..< size { projection += output.values[row * size + j] * gradient.values[row * size + j] }
                for j in 0 ..< size {
                    dx[row * size + j] = (gradient.values[row * size + j] - output.values[row * size + j] * projection) / norms[row]
                }
            }
        }
        return result
    }
}

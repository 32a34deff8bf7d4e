import Testing
@testable import Descriptors
@testable import VectorMath

/// Finite-difference gradient checks: the analytic gradient of every layer and loss against
/// central differences `(L(x + ε) − L(x − ε)) / 2ε`, entry by entry.
enum GradientCheck {
    static func random(_ rows: Int, _ columns: Int, seed: UInt64, scale: Double = 1) -> Matrix {
        var generator = SeededGenerator(seed: seed)
        return try! Matrix(dimension: columns, values: (0 ..< rows * columns).map { _ in Float(generator.nextGaussian() * scale) })
    }

    static func unitRows(_ rows: Int, _ columns: Int, seed: UInt64) -> Matrix {
        var matrix = random(rows, columns, seed: seed)
        matrix.normalizeRows()
        return matrix
    }

    /// Largest relative error between the analytic and the numeric gradient over `count` entries.
    static func worstError(count: Int, epsilon: Float = 1e-3, analytic: (Int) -> Float, perturb: (Int, Float) -> Void,
                           loss: () -> Float) -> Float {
        var worst: Float = 0
        for index in 0 ..< count {
            perturb(index, epsilon)
            let plus = loss()
            perturb(index, -2 * epsilon)
            let minus = loss()
            perturb(index, epsilon)
            let numeric = (plus - minus) / (2 * epsilon)
            let exact = analytic(index)
            worst = max(worst, abs(numeric - exact) / max(1e-2, abs(numeric) + abs(exact)))
        }
        return worst
    }

    /// Checks a layer under the scalar loss `Σ y ⊙ r` for a fixed random `r`.
    static func check(layer: any Layer, input: Matrix) -> (input: Float, parameters: Float) {
        let probe = random(input.rowCount, layer.outputSize, seed: 99)
        var x = input
        func loss() -> Float { zip(layer.forward(x, training: true).values, probe.values).reduce(0) { $0 + $1.0 * $1.1 } }
        layer.parameters.forEach { $0.zeroGradient() }
        _ = layer.forward(x, training: true)
        let inputGradient = layer.backward(probe)
        let inputError = worstError(count: x.values.count, analytic: { inputGradient.values[$0] },
                                    perturb: { index, delta in x.withUnsafeMutableBufferPointer { $0[index] += delta } }, loss: loss)
        var parameterError: Float = 0
        for parameter in layer.parameters {
            let gradient = parameter.gradient
            parameterError = max(parameterError, worstError(count: parameter.count, analytic: { gradient[$0] },
                                                            perturb: { parameter.values[$0] += $1 }, loss: loss))
        }
        return (inputError, parameterError)
    }

    static func check(loss: any EmbeddingLoss, embeddings: Matrix, labels: [Int32]) -> (input: Float, parameters: Float) {
        var x = embeddings
        func value() -> Float { loss.lossAndGradient(x, labels: labels).loss }
        loss.parameters.forEach { $0.zeroGradient() }
        let gradient = loss.lossAndGradient(x, labels: labels).gradient
        let parameterGradients = loss.parameters.map(\.gradient)
        let inputError = worstError(count: x.values.count, analytic: { gradient.values[$0] },
                                    perturb: { index, delta in x.withUnsafeMutableBufferPointer { $0[index] += delta } }, loss: value)
        var parameterError: Float = 0
        for (parameter, analytic) in zip(loss.parameters, parameterGradients) {
            parameterError = max(parameterError, worstError(count: parameter.count, analytic: { analytic[$0] },
                                                            perturb: { parameter.values[$0] += $1 }, loss: value))
        }
        return (inputError, parameterError)
    }
}

@Suite struct GradientCheckTests {
    static let tolerance: Float = 2e-2

    @Test func dense() {
        var generator = SeededGenerator(seed: 1)
        let (input, parameters) = GradientCheck.check(layer: Dense(inputSize: 7, outputSize: 5, generator: &generator),
                                                      input: GradientCheck.random(4, 7, seed: 2))
        #expect(input < Self.tolerance && parameters < Self.tolerance)
    }

    @Test func relu() {
        // Inputs away from the kink at 0.
        var input = GradientCheck.random(4, 6, seed: 3)
        input.withUnsafeMutableBufferPointer { for i in 0 ..< $0.count where abs($0[i]) < 0.05 { $0[i] = 0.3 } }
        #expect(GradientCheck.check(layer: ReLU(size: 6), input: input).input < Self.tolerance)
    }

    @Test func batchNorm() {
        let layer = BatchNorm(size: 5)
        layer.scale.values = [0.5, 1.5, 1, 2, 0.7]
        layer.shift.values = [0.1, -0.2, 0, 0.3, 1]
        let (input, parameters) = GradientCheck.check(layer: layer, input: GradientCheck.random(6, 5, seed: 4, scale: 2))
        #expect(input < Self.tolerance && parameters < Self.tolerance)
    }

    @Test func l2Normalize() {
        #expect(GradientCheck.check(layer: L2Normalize(size: 6), input: GradientCheck.random(4, 6, seed: 5)).input < Self.tolerance)
    }

    @Test func convolution() {
        var generator = SeededGenerator(seed: 13)
        let geometry = ImageGeometry(width: 5, height: 4, channels: 2)
        let layer = Conv2D(input: geometry, outChannels: 3, generator: &generator)
        let (input, parameters) = GradientCheck.check(layer: layer, input: GradientCheck.random(2, geometry.size, seed: 14))
        #expect(input < Self.tolerance, "input gradient error \(input)")
        #expect(parameters < Self.tolerance, "parameter gradient error \(parameters)")
    }

    @Test func convolutionMatchesADirectSum() {
        // One 3×3 output pixel computed by hand: im2col must place every tap where the sum expects it.
        var generator = SeededGenerator(seed: 15)
        let geometry = ImageGeometry(width: 4, height: 3, channels: 2)
        let layer = Conv2D(input: geometry, outChannels: 2, generator: &generator)
        layer.bias.values = [0.25, -0.5]
        let image = GradientCheck.random(1, geometry.size, seed: 16)
        let output = layer.forward(image, training: false)
        for (y, x, out) in [(0, 0, 0), (1, 2, 1), (2, 3, 0)] {
            var expected = layer.bias.values[out]
            for ky in 0 ..< 3 { for kx in 0 ..< 3 { for c in 0 ..< 2 {
                let sy = y + ky - 1, sx = x + kx - 1
                guard sy >= 0, sy < 3, sx >= 0, sx < 4 else { continue }
                expected += layer.weight.values[out * 18 + (ky * 3 + kx) * 2 + c] * image.values[(sy * 4 + sx) * 2 + c]
            } } }
            #expect(abs(output.values[(y * 4 + x) * 2 + out] - expected) < 1e-5)
        }
    }

    @Test func maxPool() {
        // Distinct values so no window has a tie (where the max is not differentiable).
        let geometry = ImageGeometry(width: 5, height: 4, channels: 2)
        let input = try! Matrix(dimension: geometry.size, values: (0 ..< 2 * geometry.size).map { Float(($0 * 37) % 83) * 0.1 })
        let layer = MaxPool2D(input: geometry)
        #expect(layer.outputSize == 2 * 2 * 2)
        #expect(GradientCheck.check(layer: layer, input: input).input < Self.tolerance)
    }

    static let labels: [Int32] = [0, 0, 1, 1, 2, 2, 0, 1]

    @Test func contrastive() {
        let embeddings = GradientCheck.unitRows(8, 6, seed: 6)
        #expect(GradientCheck.check(loss: ContrastiveLoss(), embeddings: embeddings, labels: Self.labels).input < Self.tolerance)
    }

    @Test(arguments: TripletMining.allCases)
    func triplet(mining: TripletMining) {
        let embeddings = GradientCheck.unitRows(8, 6, seed: 7)
        let loss = TripletLoss(margin: 0.5, mining: mining)
        #expect(loss.lossAndGradient(embeddings, labels: Self.labels).loss > 0)
        #expect(GradientCheck.check(loss: loss, embeddings: embeddings, labels: Self.labels).input < Self.tolerance)
    }

    @Test func center() {
        var generator = SeededGenerator(seed: 8)
        let loss = CenterLoss(classCount: 3, dimension: 6, lambda: 0.5, generator: &generator)
        loss.updatesCentres = false
        let (input, parameters) = GradientCheck.check(loss: loss, embeddings: GradientCheck.unitRows(8, 6, seed: 9), labels: Self.labels)
        #expect(input < Self.tolerance && parameters < Self.tolerance)
    }

    static let margins: [AngularMargin] = [
        .cosFace(scale: 4, margin: 0.35), .arcFace(scale: 4, margin: 0.5), .sphereFace(scale: 4, margin: 4, lambda: 2),
    ]

    @Test(arguments: margins)
    func angularMargins(margin: AngularMargin) {
        var generator = SeededGenerator(seed: 10)
        let loss = MarginSoftmaxLoss(classCount: 3, dimension: 6, margin: margin, generator: &generator)
        let (input, parameters) = GradientCheck.check(loss: loss, embeddings: GradientCheck.unitRows(8, 6, seed: 11), labels: Self.labels)
        #expect(input < Self.tolerance, "input gradient error \(input)")
        #expect(parameters < Self.tolerance, "weight gradient error \(parameters)")
    }

    @Test func sphereFacePsiIsMonotonicAndContinuous() {
        var generator = SeededGenerator(seed: 12)
        let loss = MarginSoftmaxLoss(classCount: 2, dimension: 2, margin: .sphereFace(scale: 1, margin: 4, lambda: 0),
                                     generator: &generator)
        var previous = Float.infinity
        for step in 0 ... 200 {
            let c = 1 - 2 * Float(step) / 200
            let (value, _) = loss.target(c)
            #expect(value <= previous + 1e-4)
            previous = value
        }
        #expect(abs(loss.target(1).0 - 1) < 1e-5)
        #expect(abs(loss.target(-1).0 - (-7)) < 1e-3)  // ψ(π) = −2m + 1 for m = 4
    }
}

@Suite struct PCATests {
    /// Data stretched along known axes: PCA finds them, in order, and its rows are orthonormal.
    @Test func recoversTheLeadingAxes() throws {
        var generator = SeededGenerator(seed: 4)
        let scales: [Double] = [5, 3, 1, 0.5, 0.2, 0.1]
        let data = try Matrix(dimension: 6, values: (0 ..< 2000 * 6).map { Float(generator.nextGaussian() * scales[$0 % 6] + 2) })
        let pca = try PCA(fitting: data, count: 3)
        for i in 0 ..< 3 {
            let row = Array(pca.components.row(i))
            #expect(abs(abs(row[i]) - 1) < 0.01, "component \(i): \(row)")
            for j in 0 ..< 3 {
                let dot = zip(row, pca.components.row(j)).reduce(Float(0)) { $0 + $1.0 * $1.1 }
                #expect(abs(dot - (i == j ? 1 : 0)) < 1e-4)
            }
        }
        let projected = try pca.project(data)
        let variances = (0 ..< 3).map { c in
            (0 ..< 2000).reduce(Float(0)) { $0 + projected.values[$1 * 3 + c] * projected.values[$1 * 3 + c] } / 2000
        }
        #expect(variances[0] > variances[1] && variances[1] > variances[2])
        #expect(abs(variances[0] - 25) < 2.5)
    }
}

import VectorMath

/// The shape of one image (or feature map) stored channels-last: pixel `(y, x)`, channel `c` sits
/// at `(y·width + x)·channels + c`. Channels-last lets a convolution's output come straight out of
/// one matrix product, `(batch·height·width) × outChannels`, with no transpose.
public struct ImageGeometry: Sendable, Equatable {
    public var width: Int, height: Int, channels: Int
    public init(width: Int, height: Int, channels: Int) {
        self.width = width
        self.height = height
        self.channels = channels
    }
    public var size: Int { width * height * channels }
}

/// A `kernel × kernel` convolution, stride 1, zero "same" padding, as im2col + one sgemm each way.
/// Weight shape `outChannels × (kernel·kernel·inChannels)`, patch order `(ky, kx, c)`.
public final class Conv2D: Layer {
    public let weight: Parameter
    public let bias: Parameter
    public let inputGeometry: ImageGeometry
    public let kernel: Int
    /// The first layer's input is the image: no gradient needed there, which saves a product.
    let computesInputGradient: Bool
    /// Threads for the per-image loops (im2col, col2im); images never share output.
    public var threads = 1
    private var patches: [Float] = []
    private var patchGradient: [Float] = []
    private var batch = 0

    public init(input: ImageGeometry, outChannels: Int, kernel: Int = 3, computesInputGradient: Bool = true,
                generator: inout SeededGenerator) {
        precondition(kernel % 2 == 1, "same padding needs an odd kernel")
        weight = Parameter.heNormal(name: "conv.weight", rows: outChannels, columns: kernel * kernel * input.channels,
                                    generator: &generator)
        bias = Parameter(name: "conv.bias", rows: 1, columns: outChannels, values: [Float](repeating: 0, count: outChannels),
                         decays: false)
        inputGeometry = input
        self.kernel = kernel
        self.computesInputGradient = computesInputGradient
    }

    public var parameters: [Parameter] { [weight, bias] }
    public var outputGeometry: ImageGeometry {
        ImageGeometry(width: inputGeometry.width, height: inputGeometry.height, channels: weight.rows)
    }
    public var outputSize: Int { outputGeometry.size }
    var patchSize: Int { weight.columns }
    var positions: Int { inputGeometry.width * inputGeometry.height }

    public func forward(_ input: Matrix, training: Bool) -> Matrix {
        batch = input.rowCount
        let rows = batch * positions, outChannels = weight.rows
        // Reused between batches: allocating ~60 MB per step costs more in page faults than the product.
        if patches.count != rows * patchSize { patches = [Float](repeating: 0, count: rows * patchSize) }
        input.withUnsafeBufferPointer { x in
            patches.withUnsafeMutableBufferPointer { p in
                let shared = DisjointWrites((x, p))
                parallelFor(batch, threads: threads, chunk: 8) { image in
                    gatherPatches(image: image, from: shared.value.0, into: shared.value.1)
                }
            }
        }
        var output = Matrix(zeros: batch, dimension: outputSize)
        patches.withUnsafeBufferPointer { p in
            weight.values.withUnsafeBufferPointer { w in
                output.withUnsafeMutableBufferPointer { y in
                    ParallelProducts.rowSplit(threads: threads, transposeB: true, m: rows, n: outChannels, k: patchSize,
                                              p.baseAddress!, w.baseAddress!, into: y.baseAddress!)
                    bias.values.withUnsafeBufferPointer { b in
                        for row in 0 ..< rows { for c in 0 ..< outChannels { y[row * outChannels + c] += b[c] } }
                    }
                }
            }
        }
        return output
    }

    public func backward(_ gradient: Matrix) -> Matrix {
        let rows = batch * positions, outChannels = weight.rows
        var inputGradient = Matrix(zeros: batch, dimension: inputGeometry.size)
        gradient.withUnsafeBufferPointer { dy in
            patches.withUnsafeBufferPointer { p in
                // dW += dYᵀ · patches
                weight.gradient.withUnsafeMutableBufferPointer { dw in
                    ParallelProducts.accumulateTransposed(threads: threads, m: outChannels, n: patchSize, k: rows,
                                                          dy.baseAddress!, p.baseAddress!, into: dw.baseAddress!)
                }
            }
            bias.gradient.withUnsafeMutableBufferPointer { db in
                for row in 0 ..< rows { for c in 0 ..< outChannels { db[c] += dy[row * outChannels + c] } }
            }
            guard computesInputGradient else { return }
            if patchGradient.count != rows * patchSize { patchGradient = [Float](repeating: 0, count: rows * patchSize) }
            weight.values.withUnsafeBufferPointer { w in
                patchGradient.withUnsafeMutableBufferPointer { dp in
                    ParallelProducts.rowSplit(threads: threads, transposeB: false, m: rows, n: patchSize, k: outChannels,
                                              dy.baseAddress!, w.baseAddress!, into: dp.baseAddress!)
                }
            }
            patchGradient.withUnsafeBufferPointer { dp in
                inputGradient.withUnsafeMutableBufferPointer { dx in
                    let shared = DisjointWrites((dp, dx))
                    parallelFor(batch, threads: threads, chunk: 8) { image in
                        scatterPatches(image: image, shared.value.0, into: shared.value.1)
                    }
                }
            }
        }
        return inputGradient
    }

    /// im2col: row `(image, y, x)` holds the `kernel × kernel × channels` window centred there,
    /// zeros where the window hangs over the border (the buffer is reused, so they are written).
    private func gatherPatches(image: Int, from x: UnsafeBufferPointer<Float>, into p: UnsafeMutableBufferPointer<Float>) {
        forEachTap(image: image) { patchOffset, pixelOffset, count in
            if pixelOffset < 0 {
                for i in 0 ..< count { p[patchOffset + i] = 0 }
            } else {
                for i in 0 ..< count { p[patchOffset + i] = x[pixelOffset + i] }
            }
        }
    }

    /// col2im: the adjoint of `gatherPatches`, summing every window's share back onto its pixels.
    private func scatterPatches(image: Int, _ dp: UnsafeBufferPointer<Float>, into dx: UnsafeMutableBufferPointer<Float>) {
        forEachTap(image: image) { patchOffset, pixelOffset, count in
            guard pixelOffset >= 0 else { return }
            for i in 0 ..< count { dx[pixelOffset + i] += dp[patchOffset + i] }
        }
    }

    /// Visits every kernel tap of one image as (offset in the patch matrix, offset in the images
    /// or −1 when the tap falls outside the image, channels).
    @inline(__always)
    private func forEachTap(image: Int, _ body: (Int, Int, Int) -> Void) {
        let width = inputGeometry.width, height = inputGeometry.height, channels = inputGeometry.channels
        let half = kernel / 2, imageSize = inputGeometry.size
        do {
            for y in 0 ..< height {
                for x in 0 ..< width {
                    let row = (image * height + y) * width + x
                    for ky in 0 ..< kernel {
                        let sourceY = y + ky - half
                        for kx in 0 ..< kernel {
                            let sourceX = x + kx - half
                            let inside = sourceY >= 0 && sourceY < height && sourceX >= 0 && sourceX < width
                            body(row * patchSize + (ky * kernel + kx) * channels,
                                 inside ? image * imageSize + (sourceY * width + sourceX) * channels : -1, channels)
                        }
                    }
                }
            }
        }
    }
}

/// 2×2 max pooling with stride 2 (odd edges dropped). The gradient goes to the winning input.
public final class MaxPool2D: Layer {
    public let inputGeometry: ImageGeometry
    private var winners: [Int32] = []
    /// Threads for the per-image loops.
    public var threads = 1

    public init(input: ImageGeometry) { inputGeometry = input }
    public var parameters: [Parameter] { [] }
    public var outputGeometry: ImageGeometry {
        ImageGeometry(width: inputGeometry.width / 2, height: inputGeometry.height / 2, channels: inputGeometry.channels)
    }
    public var outputSize: Int { outputGeometry.size }

    public func forward(_ input: Matrix, training: Bool) -> Matrix {
        let batch = input.rowCount, out = outputGeometry, channels = inputGeometry.channels, inWidth = inputGeometry.width
        var output = Matrix(zeros: batch, dimension: out.size)
        winners = [Int32](repeating: 0, count: batch * out.size)
        let rowStride = inWidth * channels
        input.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { y in
                winners.withUnsafeMutableBufferPointer { wonBuffer in
                    let shared = DisjointWrites((x, y, wonBuffer))
                    parallelFor(batch, threads: threads, chunk: 8) { image in
                        let (x, y, won) = shared.value
                        let inBase = image * inputGeometry.size, outBase = image * out.size
                        for oy in 0 ..< out.height {
                            for ox in 0 ..< out.width {
                                for c in 0 ..< channels {
                                    let topLeft = inBase + ((2 * oy) * inWidth + 2 * ox) * channels + c
                                    // `!(a <= b)` so a NaN wins and reaches the loss instead of hiding.
                                    var best = topLeft
                                    if !(x[topLeft + channels] <= x[best]) { best = topLeft + channels }
                                    if !(x[topLeft + rowStride] <= x[best]) { best = topLeft + rowStride }
                                    if !(x[topLeft + rowStride + channels] <= x[best]) { best = topLeft + rowStride + channels }
                                    let target = outBase + (oy * out.width + ox) * channels + c
                                    y[target] = x[best]
                                    won[target] = Int32(best - inBase)
                                }
                            }
                        }
                    }
                }
            }
        }
        return output
    }

    public func backward(_ gradient: Matrix) -> Matrix {
        let batch = gradient.rowCount, outSize = outputSize, inSize = inputGeometry.size
        var result = Matrix(zeros: batch, dimension: inSize)
        gradient.withUnsafeBufferPointer { dy in
            result.withUnsafeMutableBufferPointer { dx in
                for image in 0 ..< batch {
                    for i in 0 ..< outSize { dx[image * inSize + Int(winners[image * outSize + i])] += dy[image * outSize + i] }
                }
            }
        }
        return result
    }
}

import VectorMath

/// The shape of an embedding network: input → (Dense → [BatchNorm] → ReLU) per hidden layer →
/// Dense → L2-normalise. The last layer's output is the descriptor.
public struct NetworkShape: Sendable, Equatable {
    public var inputSize: Int
    public var hiddenSizes: [Int]
    /// Descriptor dimension `d` (default 128).
    public var embeddingSize: Int
    public var batchNorm: Bool

    public init(inputSize: Int, hiddenSizes: [Int] = [1024, 512], embeddingSize: Int = 128, batchNorm: Bool = true) {
        self.inputSize = inputSize
        self.hiddenSizes = hiddenSizes
        self.embeddingSize = embeddingSize
        self.batchNorm = batchNorm
    }
}

/// A multi-layer perceptron that maps images (flattened pixels) to unit-length descriptors.
public final class EmbeddingNetwork {
    public let shape: NetworkShape
    public let layers: [Layer]

    public init(shape: NetworkShape, seed: UInt64) {
        var generator = SeededGenerator(seed: seed)
        var layers: [Layer] = []
        var width = shape.inputSize
        for hidden in shape.hiddenSizes {
            layers.append(Dense(inputSize: width, outputSize: hidden, generator: &generator))
            if shape.batchNorm { layers.append(BatchNorm(size: hidden)) }
            layers.append(ReLU(size: hidden))
            width = hidden
        }
        layers.append(Dense(inputSize: width, outputSize: shape.embeddingSize, generator: &generator))
        layers.append(L2Normalize(size: shape.embeddingSize))
        self.shape = shape
        self.layers = layers
    }

    init(shape: NetworkShape, layers: [Layer]) {
        self.shape = shape
        self.layers = layers
    }

    public var parameters: [Parameter] { layers.flatMap(\.parameters) }

    public func forward(_ input: Matrix, training: Bool) -> Matrix {
        layers.reduce(input) { $1.forward($0, training: training) }
    }

    public func backward(_ gradient: Matrix) {
        _ = layers.reversed().reduce(gradient) { $1.backward($0) }
    }

    /// Descriptors for `images` in inference mode, in batches of `batchSize`.
    public func embed(_ images: Matrix, batchSize: Int = 1024) throws(DescriptorError) -> Matrix {
        guard images.dimension == shape.inputSize else { throw .dimensionMismatch(expected: shape.inputSize, got: images.dimension) }
        var result = Matrix(zeros: 0, dimension: shape.embeddingSize)
        var start = 0
        while start < images.rowCount {
            let end = min(images.rowCount, start + batchSize)
            // Same dimension by construction.
            try! result.append(forward(images.slice(start ..< end), training: false))
            start = end
        }
        return result
    }
}

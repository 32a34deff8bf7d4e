import VectorMath

/// The shape of an embedding network: an optional convolutional front end (3×3 Conv → ReLU → 2×2
/// max-pool per entry of `convolutionChannels`), then (Dense → [BatchNorm] → ReLU) per hidden
/// layer → Dense → L2-normalise. The last layer's output is the descriptor.
public struct NetworkShape: Sendable, Equatable {
    public var inputSize: Int
    public var hiddenSizes: [Int]
    /// Descriptor dimension `d` (default 128).
    public var embeddingSize: Int
    public var batchNorm: Bool
    /// Output channels of each convolution block; empty for a plain MLP.
    public var convolutionChannels: [Int]
    /// The input image's geometry; required when `convolutionChannels` is not empty.
    public var image: ImageGeometry?

    public init(inputSize: Int, hiddenSizes: [Int] = [1024, 512], embeddingSize: Int = 128, batchNorm: Bool = true,
                convolutionChannels: [Int] = [], image: ImageGeometry? = nil) {
        self.inputSize = inputSize
        self.hiddenSizes = hiddenSizes
        self.embeddingSize = embeddingSize
        self.batchNorm = batchNorm
        self.convolutionChannels = convolutionChannels
        self.image = image
    }

    /// The convolutional network Sightline trains by default on square grey images of `side`
    /// pixels: two conv blocks (32, 64 channels), one hidden layer of 256, d = 128.
    public static func convolutional(side: Int, embeddingSize: Int = 128) -> NetworkShape {
        NetworkShape(inputSize: side * side, hiddenSizes: [256], embeddingSize: embeddingSize,
                     convolutionChannels: [32, 64], image: ImageGeometry(width: side, height: side, channels: 1))
    }

    /// Checks that the convolution blocks fit the image; returns the reason when they do not.
    public func validate() throws(DescriptorError) {
        guard inputSize > 0, embeddingSize > 0, hiddenSizes.allSatisfy({ $0 > 0 }), convolutionChannels.allSatisfy({ $0 > 0 }) else {
            throw .invalidParameter("layer sizes must be positive")
        }
        guard !convolutionChannels.isEmpty else { return }
        guard let image, image.size == inputSize else {
            throw .invalidParameter("a convolutional network needs the image geometry (width × height × channels = \(inputSize))")
        }
        let shrink = 1 << convolutionChannels.count
        guard image.width >= shrink, image.height >= shrink else {
            throw .invalidParameter("\(convolutionChannels.count) pooling steps do not fit a \(image.width)×\(image.height) image")
        }
    }
}

extension NetworkShape {
    /// The floats a model file stores for this shape (weights, biases, batch-norm scale, shift
    /// and running statistics), or nil when counting them overflows. Mirrors the layers
    /// `EmbeddingNetwork.init` builds.
    public func storedValueCount() -> Int? {
        var total = 0, width = inputSize
        func add(_ count: Int?) -> Bool {
            guard let count, let sum = checkedSum(total, count) else { return false }
            total = sum
            return true
        }
        if var geometry = image, !convolutionChannels.isEmpty {
            for channels in convolutionChannels {
                guard add(checkedProduct(9, geometry.channels, channels)), add(channels) else { return nil }
                geometry = ImageGeometry(width: geometry.width / 2, height: geometry.height / 2, channels: channels)
            }
            guard let size = checkedProduct(geometry.width, geometry.height, geometry.channels) else { return nil }
            width = size
        }
        for hidden in hiddenSizes {
            guard add(checkedProduct(width, hidden)), add(hidden), !batchNorm || add(checkedProduct(4, hidden)) else { return nil }
            width = hidden
        }
        guard add(checkedProduct(width, embeddingSize)), add(embeddingSize) else { return nil }
        return total
    }
}

/// Maps images (flattened pixels) to unit-length descriptors.
public final class EmbeddingNetwork {
    public let shape: NetworkShape
    public let layers: [any Layer]
    /// Distance under which two descriptors show the same thing, calibrated on training pairs;
    /// nil until calibrated (`sightline calibrate`, or at the end of `train-descriptor`).
    public var verificationThreshold: Float?
    /// Distance under which a query's nearest stored item counts as found (open-set
    /// identification), calibrated on training probes; nil until calibrated. Much tighter than
    /// the verification threshold: the nearest of many items is always fairly close.
    public var identificationThreshold: Float?

    public init(shape: NetworkShape, seed: UInt64) {
        var generator = SeededGenerator(seed: seed)
        var layers: [any Layer] = []
        var width = shape.inputSize
        if var geometry = shape.image, !shape.convolutionChannels.isEmpty {
            for (index, channels) in shape.convolutionChannels.enumerated() {
                let convolution = Conv2D(input: geometry, outChannels: channels, computesInputGradient: index > 0, generator: &generator)
                let pool = MaxPool2D(input: convolution.outputGeometry)
                layers += [convolution, ReLU(size: convolution.outputSize), pool]
                geometry = pool.outputGeometry
            }
            width = geometry.size
        }
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

    init(shape: NetworkShape, layers: [any Layer]) {
        self.shape = shape
        self.layers = layers
    }

    public var parameters: [Parameter] { layers.flatMap(\.parameters) }

    /// Threads for the image-shaped layers' own loops (results do not depend on it).
    public var threads = 1 {
        didSet {
            for layer in layers {
                (layer as? Conv2D)?.threads = threads
                (layer as? MaxPool2D)?.threads = threads
                (layer as? Dense)?.threads = threads
            }
        }
    }

    public func forward(_ input: Matrix, training: Bool) -> Matrix {
        layers.reduce(input) { $1.forward($0, training: training) }
    }

    public func backward(_ gradient: Matrix) {
        _ = layers.reversed().reduce(gradient) { $1.backward($0) }
    }

    /// The activations after the first `layerCount` layers (inference mode), each row scaled to
    /// unit length: earlier layers keep more of what tells two pictures of one kind apart.
    public func features(_ images: Matrix, layerCount: Int, batchSize: Int = 1024) throws(DescriptorError) -> Matrix {
        guard images.dimension == shape.inputSize else { throw .dimensionMismatch(expected: shape.inputSize, got: images.dimension) }
        guard (1 ... layers.count).contains(layerCount) else {
            throw .invalidParameter("the network has \(layers.count) layers, not \(layerCount)")
        }
        var result = Matrix(zeros: 0, dimension: layers[layerCount - 1].outputSize)
        var start = 0
        while start < images.rowCount {
            let end = min(images.rowCount, start + batchSize)
            var batch = layers.prefix(layerCount).reduce(images.slice(start ..< end)) { $1.forward($0, training: false) }
            batch.normalizeRows()
            // Same dimension by construction.
            try! result.append(batch)
            start = end
        }
        return result
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

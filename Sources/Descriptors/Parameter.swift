import VectorMath

/// A trainable tensor: values, the gradient of the loss with respect to them, and optimiser state.
/// A class, because layers, losses and optimisers all refer to the same storage.
public final class Parameter {
    public let name: String
    /// Shape as (rows, columns); a vector has one row.
    public let rows: Int, columns: Int
    public var values: [Float]
    public var gradient: [Float]
    /// Whether weight decay applies (weights yes, biases and batch-norm shifts no).
    public let decays: Bool
    // Optimiser state (momentum, Adam moments), sized on first use.
    var firstMoment: [Float] = []
    var secondMoment: [Float] = []

    public init(name: String, rows: Int, columns: Int, values: [Float], decays: Bool) {
        precondition(values.count == rows * columns, "parameter shape and values agree")
        self.name = name
        self.rows = rows
        self.columns = columns
        self.values = values
        self.gradient = [Float](repeating: 0, count: values.count)
        self.decays = decays
    }

    public var count: Int { values.count }

    public func zeroGradient() {
        for i in gradient.indices { gradient[i] = 0 }
    }

    /// He (Kaiming) normal initialisation for a layer followed by ReLU: N(0, 2 / fanIn).
    static func heNormal(name: String, rows: Int, columns: Int, generator: inout SeededGenerator) -> Parameter {
        let scale = (2.0 / Double(columns)).squareRoot()
        return Parameter(name: name, rows: rows, columns: columns,
                         values: (0 ..< rows * columns).map { _ in Float(generator.nextGaussian() * scale) }, decays: true)
    }
}

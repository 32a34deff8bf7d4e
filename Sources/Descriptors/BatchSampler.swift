import VectorMath

/// Mini-batches of row indices: shuffled for the classification-style losses, or P classes × K
/// images each for the pair and triplet losses (so every anchor has positives and negatives).
public struct BatchSampler {
    let labels: [Int32]
    let byClass: [Int32: [Int]]
    var generator: SeededGenerator

    public init(labels: [Int32], seed: UInt64) {
        self.labels = labels
        var groups: [Int32: [Int]] = [:]
        for (index, label) in labels.enumerated() { groups[label, default: []].append(index) }
        byClass = groups
        generator = SeededGenerator(seed: seed)
    }

    /// One epoch of shuffled batches (the last short batch is dropped).
    public mutating func shuffledEpoch(batchSize: Int) -> [[Int]] {
        var order = Array(labels.indices)
        order.shuffle(using: &generator)
        return stride(from: 0, to: order.count - batchSize + 1, by: batchSize).map { Array(order[$0 ..< $0 + batchSize]) }
    }

    /// `count` batches of `classes` × `perClass` indices (with replacement inside small classes).
    public mutating func balancedBatches(count: Int, classes: Int, perClass: Int) -> [[Int]] {
        let keys = byClass.keys.sorted()
        let pickClasses = min(classes, keys.count)
        return (0 ..< count).map { _ in
            var batch: [Int] = []
            for key in generator.sample(pickClasses, from: keys.count).map({ keys[$0] }) {
                let members = byClass[key]!
                for _ in 0 ..< perClass { batch.append(members[generator.nextInt(below: members.count)]) }
            }
            return batch
        }
    }
}

/// Simple image augmentation for square grey images stored row-major: a random shift of up to
/// `maxShift` pixels (zero fill) and Gaussian pixel noise.
public struct Augmentation: Sendable, Equatable {
    public var side: Int
    public var maxShift: Int = 2
    public var noise: Float = 0.02
    public init(side: Int) { self.side = side }

    public func apply(_ images: Matrix, generator: inout SeededGenerator) -> Matrix {
        var result = images
        let side = self.side
        result.withUnsafeMutableBufferPointer { out in
            images.withUnsafeBufferPointer { source in
                for row in 0 ..< images.rowCount {
                    let dx = generator.nextInt(below: 2 * maxShift + 1) - maxShift
                    let dy = generator.nextInt(below: 2 * maxShift + 1) - maxShift
                    let base = row * side * side
                    for y in 0 ..< side {
                        for x in 0 ..< side {
                            let sx = x - dx, sy = y - dy
                            let value = (sx >= 0 && sx < side && sy >= 0 && sy < side) ? source[base + sy * side + sx] : 0
                            out[base + y * side + x] = value + (noise > 0 ? noise * Float(generator.nextGaussian()) : 0)
                        }
                    }
                }
            }
        }
        return result
    }
}

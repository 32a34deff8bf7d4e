import VectorMath

/// The edits that make a near-duplicate of a square grey image: what a re-upload, a screenshot or
/// a re-scan does to a picture. Used to build duplicate-detection test sets.
public enum ImageEdit: Sendable, Equatable {
    /// Moves the content by (dx, dy) pixels, filling with black.
    case shift(dx: Int, dy: Int)
    /// Keeps the centre `keep` fraction of each side and scales it back up (bilinear).
    case crop(keep: Float)
    /// Adds Gaussian noise of this standard deviation, clamped to [0, 1].
    case noise(sigma: Float)

    /// The edit applied to one `side × side` image.
    public func apply(_ pixels: [Float], side: Int, generator: inout SeededGenerator) -> [Float] {
        precondition(pixels.count == side * side, "one square image")
        switch self {
        case .shift(let dx, let dy):
            return (0 ..< side * side).map { index in
                let sx = index % side - dx, sy = index / side - dy
                return sx >= 0 && sx < side && sy >= 0 && sy < side ? pixels[sy * side + sx] : 0
            }
        case .crop(let keep):
            let window = Float(side) * keep, offset = (Float(side) - window) / 2
            return (0 ..< side * side).map { index in
                // Pixel centres of the output mapped into the window.
                let fx = offset + (Float(index % side) + 0.5) * window / Float(side) - 0.5
                let fy = offset + (Float(index / side) + 0.5) * window / Float(side) - 0.5
                let x0 = max(0, min(side - 1, Int(fx.rounded(.down)))), y0 = max(0, min(side - 1, Int(fy.rounded(.down))))
                let x1 = min(side - 1, x0 + 1), y1 = min(side - 1, y0 + 1)
                let tx = max(0, min(1, fx - Float(x0))), ty = max(0, min(1, fy - Float(y0)))
                let top = pixels[y0 * side + x0] * (1 - tx) + pixels[y0 * side + x1] * tx
                let bottom = pixels[y1 * side + x0] * (1 - tx) + pixels[y1 * side + x1] * tx
                return top * (1 - ty) + bottom * ty
            }
        case .noise(let sigma):
            return pixels.map { max(0, min(1, $0 + sigma * Float(generator.nextGaussian()))) }
        }
    }

    /// The edits `DuplicateSet` cycles through: 1–2 px shifts, 85–90 % crops, σ 0.03–0.06 noise.
    public static func random(using generator: inout SeededGenerator, kind: Int) -> ImageEdit {
        switch kind % 3 {
        case 0:
            let dx = generator.nextInt(below: 5) - 2, dy = generator.nextInt(below: 5) - 2
            return .shift(dx: dx == 0 && dy == 0 ? 1 : dx, dy: dy)
        case 1: return .crop(keep: 0.85 + 0.05 * Float(generator.nextInt(below: 2)))
        default: return .noise(sigma: 0.03 + 0.03 * Float(generator.nextInt(below: 2)))
        }
    }
}

/// A near-duplicate test set: the original images followed by one edited copy of each of
/// `copies` randomly chosen originals; the true duplicate pairs are (original, its copy).
public struct DuplicateSet: Sendable {
    public var images: Matrix
    /// (original row, copy row), original < copy.
    public var truePairs: Set<[Int]>
    public var originalCount: Int

    public init(images originals: Matrix, side: Int, copies: Int, seed: UInt64) {
        precondition(originals.dimension == side * side, "square images")
        var generator = SeededGenerator(seed: seed)
        var chosen = Array(0 ..< originals.rowCount)
        chosen.shuffle(using: &generator)
        chosen = Array(chosen.prefix(copies)).sorted()
        var values = originals.values
        var pairs = Set<[Int]>()
        for (number, original) in chosen.enumerated() {
            let edit = ImageEdit.random(using: &generator, kind: number)
            values += edit.apply(Array(originals.row(original)), side: side, generator: &generator)
            pairs.insert([original, originals.rowCount + number])
        }
        // Same dimension as the originals by construction.
        images = try! Matrix(dimension: originals.dimension, values: values)
        truePairs = pairs
        originalCount = originals.rowCount
    }
}

/// A training-free near-duplicate descriptor: the image averaged over `pool × pool` cells, centred
/// (mean 0) and scaled to unit length. Averaging absorbs 1–2 px shifts and noise, centring and
/// scaling absorb brightness and contrast changes, while the layout that makes one picture
/// differ from another of the same kind survives.
public func pooledPixels(_ images: Matrix, side: Int, pool: Int) -> Matrix {
    precondition(images.dimension == side * side && pool >= 1, "square images")
    let cells = side / pool
    var values: [Float] = []
    values.reserveCapacity(images.rowCount * cells * cells)
    for row in 0 ..< images.rowCount {
        let image = Array(images.row(row))
        var pooled = [Float](repeating: 0, count: cells * cells)
        for cy in 0 ..< cells {
            for cx in 0 ..< cells {
                var sum: Float = 0
                for y in cy * pool ..< (cy + 1) * pool { for x in cx * pool ..< (cx + 1) * pool { sum += image[y * side + x] } }
                pooled[cy * cells + cx] = sum / Float(pool * pool)
            }
        }
        let mean = pooled.reduce(0, +) / Float(pooled.count)
        pooled = pooled.map { $0 - mean }
        let norm = max(1e-12, pooled.reduce(0) { $0 + $1 * $1 }.squareRoot())
        values += pooled.map { $0 / norm }
    }
    // cells² values per image by construction.
    return try! Matrix(dimension: cells * cells, values: values)
}

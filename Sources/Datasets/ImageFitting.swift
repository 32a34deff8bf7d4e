/// Brings an image of any size to a model's input the way Fashion-MNIST-style collections were
/// made: grey, a light object on a dark background (inverted when the border is mostly bright,
/// as product photos on white are), the longer side scaled to the target with area averaging,
/// centred and padded with the background. An image already of the target size with a dark
/// border passes unchanged, so a collection's own images embed exactly as they were indexed.
public enum ImageFitting {
    /// Pixels in [0, 1], `width × height`, row-major.
    public static func fit(_ image: GreyImage, width: Int, height: Int) -> [Float] {
        precondition(width > 0 && height > 0, "a target size")
        // Box averages commute with inversion (the weights sum to 1): resample the bytes first
        // and invert the small result, so a large upload is never held as floats.
        let invert = borderMean(image) > 0.5
        func finish(_ value: Float) -> Float { invert ? 1 - value : value }
        if image.width == width, image.height == height { return image.pixels.map { finish(Float($0) / 255) } }
        let scale = min(Double(width) / Double(image.width), Double(height) / Double(image.height))
        let scaledWidth = max(1, min(width, Int((Double(image.width) * scale).rounded())))
        let scaledHeight = max(1, min(height, Int((Double(image.height) * scale).rounded())))
        let rows = resampleRows(image.pixels, width: image.width, height: image.height, to: scaledWidth)
        let scaled = resampleColumns(rows, width: scaledWidth, height: image.height, to: scaledHeight)
        // Padding is the background: 0 after inversion of a bright one, as for a dark one.
        var out = [Float](repeating: 0, count: width * height)
        let left = (width - scaledWidth) / 2, top = (height - scaledHeight) / 2
        for y in 0 ..< scaledHeight {
            for x in 0 ..< scaledWidth { out[(top + y) * width + left + x] = finish(scaled[y * scaledWidth + x]) }
        }
        return out
    }

    /// Mean brightness of the outermost pixels, in [0, 1] (only the border is read).
    static func borderMean(_ image: GreyImage) -> Float {
        let width = image.width, height = image.height
        var sum = 0, count = 0
        func add(_ x: Int, _ y: Int) {
            sum += Int(image.pixels[y * width + x])
            count += 1
        }
        for x in 0 ..< width {
            add(x, 0)
            if height > 1 { add(x, height - 1) }
        }
        for y in 1 ..< max(1, height - 1) {
            add(0, y)
            if width > 1 { add(width - 1, y) }
        }
        return count == 0 ? 0 : Float(sum) / Float(count) / 255
    }

    /// Box-filter weights that map `from` samples onto `to`: each output covers an equal span
    /// of the input, partial samples weighted by their overlap (nearest sample when enlarging).
    static func weights(from: Int, to: Int) -> [[(index: Int, weight: Float)]] {
        let span = Double(from) / Double(to)
        return (0 ..< to).map { out in
            let start = Double(out) * span, end = start + span
            var taps: [(Int, Float)] = []
            var position = Int(start)
            while Double(position) < end, position < from {
                let overlap = min(end, Double(position + 1)) - max(start, Double(position))
                if overlap > 0 { taps.append((position, Float(overlap / span))) }
                position += 1
            }
            return taps.isEmpty ? [(min(from - 1, Int(start)), 1)] : taps
        }
    }

    /// Bytes in, values in [0, 1] out (`newWidth × height`).
    static func resampleRows(_ pixels: [UInt8], width: Int, height: Int, to newWidth: Int) -> [Float] {
        let taps = weights(from: width, to: newWidth)
        var out = [Float](repeating: 0, count: newWidth * height)
        for y in 0 ..< height {
            for x in 0 ..< newWidth {
                out[y * newWidth + x] = taps[x].reduce(0) { $0 + Float(pixels[y * width + $1.index]) * $1.weight } / 255
            }
        }
        return out
    }

    static func resampleColumns(_ pixels: [Float], width: Int, height: Int, to newHeight: Int) -> [Float] {
        let taps = weights(from: height, to: newHeight)
        var out = [Float](repeating: 0, count: width * newHeight)
        for y in 0 ..< newHeight {
            for x in 0 ..< width { out[y * width + x] = taps[y].reduce(0) { $0 + pixels[$1.index * width + x] * $1.weight } }
        }
        return out
    }
}

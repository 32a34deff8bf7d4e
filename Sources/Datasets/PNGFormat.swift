import CPNG

/// PNG images through libpng's simplified API (Debian's libpng 1.6): any bit depth, palette or
/// colour type comes out as 8-bit grey, pixels scaled to [0, 1] like the IDX and PGM readers, so
/// one image embeds identically from any of the three.
public enum PNGFormat {
    public static func read(_ path: String, expectedPixels: Int? = nil) throws(DatasetError) -> [Float] {
        let image = try GreyImage.decodePNG(try BinaryFile.read(path), name: path)
        if let expectedPixels, image.pixels.count != expectedPixels {
            throw .malformed(path: path, detail: "image is \(image.width)×\(image.height) = \(image.pixels.count) pixels; "
                             + "the model takes \(expectedPixels)")
        }
        return image.pixels.map { Float($0) / 255 }
    }

    /// Writes one grey image (values in [0, 1]) as an 8-bit PNG.
    public static func write(_ pixels: [Float], width: Int, height: Int, to path: String) throws(DatasetError) {
        try BinaryFile.writeAtomically(try encode(pixels, width: width, height: height, name: path), to: path)
    }

    /// One grey image (values in [0, 1]) as 8-bit PNG bytes.
    public static func encode(_ pixels: [Float], width: Int, height: Int, name: String = "image") throws(DatasetError) -> [UInt8] {
        precondition(pixels.count == width * height, "pixel count matches the size")
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        image.width = UInt32(width)
        image.height = UInt32(height)
        image.format = UInt32(PNG_FORMAT_GRAY)
        // Thumbnails are written by the tens of thousands: speed over the last bytes of size.
        image.flags = UInt32(PNG_IMAGE_FLAG_FAST)
        defer { png_image_free(&image) }
        let grey = pixels.map { UInt8(max(0, min(255, ($0 * 255).rounded()))) }
        var size = 0
        // First call sizes the output, second fills it.
        guard grey.withUnsafeBytes({ png_image_write_to_memory(&image, nil, &size, 0, $0.baseAddress, 0, nil) }) != 0, size > 0 else {
            throw .unreadable(path: name, reason: "libpng could not encode: \(GreyImage.pngMessage(image))")
        }
        var encoded = [UInt8](repeating: 0, count: size)
        let written = encoded.withUnsafeMutableBytes { out in
            grey.withUnsafeBytes { png_image_write_to_memory(&image, out.baseAddress, &size, 0, $0.baseAddress, 0, nil) }
        }
        guard written != 0 else { throw .unreadable(path: name, reason: "libpng could not encode: \(GreyImage.pngMessage(image))") }
        return Array(encoded.prefix(size))
    }
}

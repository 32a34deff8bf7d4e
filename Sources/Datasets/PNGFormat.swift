import CPNG

/// PNG images through libpng's simplified API (Debian's libpng 1.6): any bit depth, palette or
/// colour type comes out as 8-bit grey, pixels scaled to [0, 1] like the IDX and PGM readers, so
/// one image embeds identically from any of the three.
public enum PNGFormat {
    public static func read(_ path: String, expectedPixels: Int? = nil) throws(DatasetError) -> [Float] {
        let bytes = try BinaryFile.read(path)
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        defer { png_image_free(&image) }
        let began = bytes.withUnsafeBytes { png_image_begin_read_from_memory(&image, $0.baseAddress, $0.count) }
        guard began != 0 else { throw .malformed(path: path, detail: "not a readable PNG: \(message(of: image))") }
        let width = Int(image.width), height = Int(image.height), pixels = width * height
        if let expectedPixels, pixels != expectedPixels {
            throw .malformed(path: path, detail: "image is \(width)×\(height) = \(pixels) pixels; the model takes \(expectedPixels)")
        }
        guard pixels > 0, pixels <= 1 << 28 else { throw .malformed(path: path, detail: "implausible size \(width)×\(height)") }
        image.format = UInt32(PNG_FORMAT_GRAY)
        var grey = [UInt8](repeating: 0, count: pixels)
        let finished = grey.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }
        // libpng reports a cut-off or corrupt data stream here, after the header was fine.
        guard finished != 0 else { throw .truncated(path: path, detail: "PNG data unreadable: \(message(of: image))") }
        return grey.map { Float($0) / 255 }
    }

    /// Writes one grey image (values in [0, 1]) as an 8-bit PNG.
    public static func write(_ pixels: [Float], width: Int, height: Int, to path: String) throws(DatasetError) {
        precondition(pixels.count == width * height, "pixel count matches the size")
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        image.width = UInt32(width)
        image.height = UInt32(height)
        image.format = UInt32(PNG_FORMAT_GRAY)
        defer { png_image_free(&image) }
        let grey = pixels.map { UInt8(max(0, min(255, ($0 * 255).rounded()))) }
        var size = 0
        // First call sizes the output, second fills it.
        guard grey.withUnsafeBytes({ png_image_write_to_memory(&image, nil, &size, 0, $0.baseAddress, 0, nil) }) != 0, size > 0 else {
            throw .unreadable(path: path, reason: "libpng could not encode: \(message(of: image))")
        }
        var encoded = [UInt8](repeating: 0, count: size)
        let written = encoded.withUnsafeMutableBytes { out in
            grey.withUnsafeBytes { png_image_write_to_memory(&image, out.baseAddress, &size, 0, $0.baseAddress, 0, nil) }
        }
        guard written != 0 else { throw .unreadable(path: path, reason: "libpng could not encode: \(message(of: image))") }
        try BinaryFile.writeAtomically(Array(encoded.prefix(size)), to: path)
    }

    private static func message(of image: png_image) -> String {
        withUnsafeBytes(of: image.message) { raw in
            let text = String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            return text.isEmpty ? "no detail from libpng" : text
        }
    }
}

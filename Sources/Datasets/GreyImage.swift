import CJPEGDecode
import CPNG

/// An 8-bit grey image decoded from PNG or JPEG bytes of any size and colour type (alpha is
/// composited onto black). Sizes are checked before any pixel buffer is allocated.
public struct GreyImage: Sendable, Equatable {
    public var width: Int
    public var height: Int
    /// Row-major, one byte a pixel.
    public var pixels: [UInt8]

    /// Largest image decoded: 40 megapixels (a 40 MB grey buffer).
    public static let maxPixels = 40_000_000

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height, "one byte a pixel")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// Decodes PNG or JPEG bytes (told apart by their signature). `name` goes into errors.
    public init(decoding bytes: [UInt8], name: String) throws(DatasetError) {
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]) {
            self = try Self.decodePNG(bytes, name: name)
        } else if bytes.starts(with: [0xFF, 0xD8, 0xFF]) {
            self = try Self.decodeJPEG(bytes, name: name)
        } else {
            throw .malformed(path: name, detail: "not a PNG or JPEG image (its first bytes say neither)")
        }
    }

    static func checkSize(_ width: Int, _ height: Int, name: String) throws(DatasetError) {
        guard width > 0, height > 0, width <= maxPixels, height <= maxPixels, width * height <= maxPixels else {
            throw .malformed(path: name, detail: "image of \(width)×\(height) pixels: at most \(maxPixels) pixels are read")
        }
    }

    static func decodePNG(_ bytes: [UInt8], name: String) throws(DatasetError) -> GreyImage {
        // libpng keeps pointers to the data and to `image` from begin to finish (its error path
        // writes through the latter): both stay pinned for the whole decode.
        let decoded: Result<GreyImage, DatasetError> = bytes.withUnsafeBytes { data in
            var image = png_image()
            image.version = UInt32(PNG_IMAGE_VERSION)
            return withUnsafeMutablePointer(to: &image) { image in
                defer { png_image_free(image) }
                guard png_image_begin_read_from_memory(image, data.baseAddress, data.count) != 0 else {
                    return .failure(.malformed(path: name, detail: "not a readable PNG: \(pngMessage(image.pointee))"))
                }
                let width = Int(image.pointee.width), height = Int(image.pointee.height)
                do throws(DatasetError) { try checkSize(width, height, name: name) } catch { return .failure(error) }
                image.pointee.format = UInt32(PNG_FORMAT_GRAY)
                var grey = [UInt8](repeating: 0, count: width * height)
                let finished = grey.withUnsafeMutableBytes { png_image_finish_read(image, nil, $0.baseAddress, 0, nil) }
                // libpng reports a cut-off or corrupt data stream here, after the header was fine.
                guard finished != 0 else {
                    return .failure(.truncated(path: name, detail: "PNG data unreadable: \(pngMessage(image.pointee))"))
                }
                return .success(GreyImage(width: width, height: height, pixels: grey))
            }
        }
        return try decoded.get()
    }

    static func decodeJPEG(_ bytes: [UInt8], name: String) throws(DatasetError) -> GreyImage {
        var message = [CChar](repeating: 0, count: 256)
        var pixels: UnsafeMutablePointer<UInt8>?
        var width: Int32 = 0, height: Int32 = 0
        let decoded = bytes.withUnsafeBufferPointer { data in
            sightline_jpeg_decode_grey(data.baseAddress, data.count, maxPixels, &pixels, &width, &height, &message, message.count)
        }
        guard decoded == 0, let pixels else {
            let detail = text(message)
            // The header's size is checked in C, before any pixel is allocated.
            if detail.hasPrefix("image of") { throw .malformed(path: name, detail: detail) }
            throw .truncated(path: name, detail: "JPEG data unreadable: \(detail)")
        }
        defer { sightline_jpeg_free(pixels) }
        let count = Int(width) * Int(height)
        return GreyImage(width: Int(width), height: Int(height), pixels: Array(UnsafeBufferPointer(start: pixels, count: count)))
    }

    static func text(_ characters: [CChar]) -> String {
        String(decoding: characters.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func pngMessage(_ image: png_image) -> String {
        withUnsafeBytes(of: image.message) { raw in
            let text = String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            return text.isEmpty ? "no detail from libpng" : text
        }
    }
}

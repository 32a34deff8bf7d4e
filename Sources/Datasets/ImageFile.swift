/// One image file, by extension: `.png` (libpng), `.jpg`/`.jpeg` (libjpeg) or `.pgm` (binary
/// P5). Pixels come out grey in [0, 1], row-major.
public enum ImageFile {
    public static func read(_ path: String, expectedPixels: Int? = nil) throws(DatasetError) -> [Float] {
        switch path.split(separator: ".").last?.lowercased() {
        case "png": return try PNGFormat.read(path, expectedPixels: expectedPixels)
        case "pgm": return try PGMFormat.read(path, expectedPixels: expectedPixels)
        default: throw .unknownFormat("\(path): images must be .png, .jpg or .pgm")
        }
    }

    /// Any PNG or JPEG (any size, any colour) brought to `width × height` by `ImageFitting`; a
    /// PGM must have that size already.
    public static func read(_ path: String, width: Int, height: Int) throws(DatasetError) -> [Float] {
        switch path.split(separator: ".").last?.lowercased() {
        case "png", "jpg", "jpeg":
            let image = try GreyImage(decoding: try BinaryFile.read(path), name: path)
            return ImageFitting.fit(image, width: width, height: height)
        case "pgm": return try PGMFormat.read(path, expectedPixels: width * height)
        default: throw .unknownFormat("\(path): images must be .png, .jpg or .pgm")
        }
    }
}

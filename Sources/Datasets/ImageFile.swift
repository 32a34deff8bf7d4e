/// One image file, by extension: `.png` (libpng) or `.pgm` (binary P5). Pixels come out grey in
/// [0, 1], row-major.
public enum ImageFile {
    public static func read(_ path: String, expectedPixels: Int? = nil) throws(DatasetError) -> [Float] {
        switch path.split(separator: ".").last?.lowercased() {
        case "png": return try PNGFormat.read(path, expectedPixels: expectedPixels)
        case "pgm": return try PGMFormat.read(path, expectedPixels: expectedPixels)
        default: throw .unknownFormat("\(path): images must be .png or .pgm")
        }
    }
}

import Foundation

/// Whole-file reads and atomic writes.
enum BinaryFile {
    static func read(_ path: String) throws(DatasetError) -> [UInt8] {
        guard FileManager.default.fileExists(atPath: path) else { throw .fileNotFound(path) }
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe)
            return [UInt8](data)
        } catch {
            throw .unreadable(path: path, reason: error.localizedDescription)
        }
    }

    /// Writes to a temporary file beside `path`, then renames it over `path`, so a crash never
    /// leaves a half-written file under the real name.
    static func writeAtomically(_ bytes: [UInt8], to path: String) throws(DatasetError) {
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw .unreadable(path: path, reason: "write failed: \(error.localizedDescription)")
        }
    }
}

/// Public entry points for files that are not vector sets (index files, models).
public enum FileBytes {
    public static func read(_ path: String) throws(DatasetError) -> [UInt8] { try BinaryFile.read(path) }
    public static func writeAtomically(_ bytes: [UInt8], to path: String) throws(DatasetError) {
        try BinaryFile.writeAtomically(bytes, to: path)
    }
}

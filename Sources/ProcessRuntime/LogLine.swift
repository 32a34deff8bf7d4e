import Foundation

/// A timestamped line on standard error.
public func logLine(_ component: String, _ message: String) {
    let stamp = ISO8601DateFormatter().string(from: Date())
    FileHandle.standardError.write(Data("\(stamp) \(component): \(message)\n".utf8))
}

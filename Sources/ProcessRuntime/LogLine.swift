import Foundation

/// A timestamped line on standard error (milliseconds: a move's steps are that short).
public func logLine(_ component: String, _ message: String) {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    FileHandle.standardError.write(Data("\(formatter.string(from: Date())) \(component): \(message)\n".utf8))
}

import Foundation

/// An exclusive lock on `DIR/NAME.lock`, held for the life of the process: `flock` is released by
/// the kernel when the process ends, even by kill -9, so a stale file never blocks a restart.
/// The file names the holder's pid for the message a second process gets.
public final class ProcessLock: Sendable {
    private let descriptor: Int32

    public init(directory: String, name: String, what: String) throws(ProcessLockError) {
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = "\(directory)/\(name).lock"
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw ProcessLockError(message: "cannot open \(path): \(String(cString: strerror(errno)))") }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            close(descriptor)
            throw ProcessLockError(message: "another \(what) (pid \(holder.isEmpty ? "unknown" : holder)) is using \(directory); "
                                            + "stop it first, or give this one another data directory")
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(descriptor, 0)
        _ = pid.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }
}

public struct ProcessLockError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

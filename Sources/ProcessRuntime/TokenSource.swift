import ErrorKinds
import Foundation

/// Where a process finds the cluster token: `--token`, else `--token-file`, else the
/// `SIGHTLINE_TOKEN` environment variable (empty when none is given). The worker, the coordinator
/// and the command line all resolve it here.
public enum TokenSource {
    public struct UnreadableFile: ClassifiedError {
        public let path: String
        public var kind: ErrorKind { .badInput }
        public var description: String { "cannot read the token file \(path)" }
    }

    public static func resolve(flag: String?, file: String?) throws(UnreadableFile) -> String {
        if let flag { return flag }
        if let file {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw UnreadableFile(path: file) }
            return text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return ProcessInfo.processInfo.environment["SIGHTLINE_TOKEN"] ?? ""
    }
}

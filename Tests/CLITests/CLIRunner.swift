import Foundation

/// Runs the built `sightline` binary (scripts/test builds it first) and captures its output.
struct CLIResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

enum CLI {
    static var binary: String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for configuration in ["release", "debug"] {
            let path = root.appendingPathComponent(".build/\(configuration)/sightline").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return root.appendingPathComponent(".build/release/sightline").path
    }

    static func run(_ arguments: [String]) throws -> CLIResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return CLIResult(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                         stderr: String(decoding: errData, as: UTF8.self))
    }

    static func folder() -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sightline-cli-\(getpid())").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Writes `.fvecs` without going through Sightline, so the tests do not trust the code they test.
    static func writeFvecs(_ rows: [[Float]], to path: String) throws {
        var bytes = Data()
        for row in rows {
            var d = Int32(row.count).littleEndian
            bytes.append(Data(bytes: &d, count: 4))
            for value in row { var bits = value.bitPattern.littleEndian; bytes.append(Data(bytes: &bits, count: 4)) }
        }
        try bytes.write(to: URL(fileURLWithPath: path))
    }
}

import ArgumentParser
import ClusterClient
import Foundation
import SightlineKit


/// How to reach the coordinator.
struct CoordinatorOptions: ParsableArguments {
    @Option(help: "Coordinator address.")
    var coordinator: String = "tcp://127.0.0.1:7700"

    @Option(help: "Cluster token (default: --token-file or $SIGHTLINE_TOKEN).")
    var token: String?

    @Option(help: "File holding the cluster token.")
    var tokenFile: String?

    @Option(help: "Collection (default: the cluster's).")
    var collection: String = ""

    func client() throws -> CoordinatorClient {
        try CoordinatorClient(url: coordinator, token: try clientToken(flag: token, file: tokenFile), collection: collection)
    }
}

/// The token from `--token`, else `--token-file`, else `SIGHTLINE_TOKEN`.
func clientToken(flag: String?, file: String?) throws -> String {
    if let flag { return flag }
    if let file {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw SightlineError.badInput("cannot read the token file \(file)")
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
    return ProcessInfo.processInfo.environment["SIGHTLINE_TOKEN"] ?? ""
}

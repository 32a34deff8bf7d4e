import ArgumentParser
import ClusterClient
import Foundation
import ProcessRuntime

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

    func client() throws -> ServiceClient {
        try ServiceClient(url: coordinator, token: try TokenSource.resolve(flag: token, file: tokenFile), collection: collection)
    }
}


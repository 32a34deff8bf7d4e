import ArgumentParser
import ClusterClient
import Foundation
import ProcessRuntime
import Transport

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

    @Option(help: "TLS: the cluster's CA certificate (PEM); needed for a tls+tcp:// coordinator.")
    var tlsCa: String?

    @Option(help: "TLS: the name on the coordinator's certificate.")
    var tlsServerName: String = "sightline"

    func client() throws -> ServiceClient {
        let tls = tlsCa.map { TLSSettings(certificateAuthorityFile: $0, serverName: tlsServerName) }
        return try ServiceClient(url: coordinator, token: try TokenSource.resolve(flag: token, file: tokenFile), collection: collection,
                                 tls: tls)
    }
}


import ClusterClient
import Foundation
import Testing
import Transport
import Wire

/// TLS on every link: clients need the cluster's CA, workers also demand a certificate from it,
/// and plaintext gets nothing.
@Suite(.serialized) struct TLSTests {
    @Test func onlyPeersOfTheClusterCAAreServed() throws {
        let cluster = try LocalCluster(name: "tls", workerCount: 2, index: (16, 16, 4), codebooks: SmallData.codebooks, tls: true)
        defer { cluster.stop() }
        try cluster.start()
        let client = try cluster.client()
        _ = try SmallData.add(SmallData.base.slice(0 ..< 500), to: client)
        #expect(try client.stats().total == 500)

        // Plaintext to a TLS listener: no answer.
        let plain = try ServiceClient(url: cluster.coordinatorURL.replacingOccurrences(of: "tls+tcp://", with: "tcp://"),
                                      token: cluster.token)
        #expect(throws: ClientError.self) { _ = try plain.health(deadlineMilliseconds: 300) }

        // A CA that did not sign the coordinator's certificate: the client refuses the server.
        let other = "\(cluster.folder)/other-ca"
        #expect(TestHosts.run([LocalCluster.root.appendingPathComponent("scripts/make-certs").path, other, "stranger"]) == 0)
        let stranger = try ServiceClient(url: cluster.coordinatorURL, token: cluster.token,
                                         tls: TLSSettings(certificateAuthorityFile: "\(other)/ca.pem"))
        #expect(throws: ClientError.self) { _ = try stranger.health(deadlineMilliseconds: 500) }

        // A worker serves the coordinator's certificate, not a client without one or with a stranger's.
        let anonymous = try ServiceClient(url: cluster.workerURLs[0], token: cluster.token, tls: cluster.clientTLS)
        #expect(throws: ClientError.self) { _ = try anonymous.health(deadlineMilliseconds: 500) }
        let impostor = try ServiceClient(url: cluster.workerURLs[0], token: cluster.token,
                                         tls: TLSSettings(certificateAuthorityFile: "\(cluster.certificates!)/ca.pem",
                                                          certificateFile: "\(other)/stranger.pem", keyFile: "\(other)/stranger.key"))
        #expect(throws: ClientError.self) { _ = try impostor.health(deadlineMilliseconds: 500) }
        let node = try ServiceClient(url: cluster.workerURLs[0], token: cluster.token, tls: cluster.nodeTLS)
        #expect(try node.health().state == "serving")

        // A TLS address without TLS settings, and TLS settings for a plaintext address, are refused locally.
        #expect(throws: ClientError.self) { try ServiceClient(url: cluster.coordinatorURL, token: cluster.token) }
        #expect(throws: ClientError.self) {
            try ServiceClient(url: "tcp://127.0.0.1:1", token: cluster.token, tls: cluster.clientTLS)
        }
    }
}

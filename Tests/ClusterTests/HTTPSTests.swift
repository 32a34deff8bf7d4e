import Foundation
import Testing

/// The HTTP API over HTTPS (`[http] tls = true`), served with the coordinator's certificate from
/// `[tls]`: a client that trusts the cluster's CA gets its answers, one that does not is refused
/// in the handshake, and a request in the clear gets no HTTP answer. Python's `ssl` is the client.
@Suite(.serialized) struct HTTPSTests {
    /// GET `path` over HTTPS on localhost:`port`: (exit status, status line and body or error).
    static func get(port: Int, path: String, token: String? = nil, ca: String?) throws -> (status: Int32, output: String) {
        let script = """
            from http import client as http_client; import ssl, sys
            ca, port, path, token = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
            context = ssl.create_default_context(cafile=ca) if ca else ssl.create_default_context()
            connection = http_client.HTTPSConnection("localhost", port, context=context, timeout=10)
            headers = {"Authorization": "Bearer " + token} if token else {}
            try:
                connection.request("GET", path, headers=headers)
                answer = connection.getresponse()
                print(answer.status, answer.read().decode())
            except Exception as error:
                print("refused:", error)
                sys.exit(3)
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, ca ?? "", "\(port)", path, token ?? ""]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }

    @Test func theAPIAnswersOverHTTPSAndNotInTheClear() throws {
        let port = LocalCluster.freePort()
        let cluster = try LocalCluster(name: "https", workerCount: 2, index: (16, 16, 4), codebooks: SmallData.codebooks, tls: true,
                                       tables: "[http]\nlisten = \"https://127.0.0.1:\(port)\"\ntls = true\n")
        defer { cluster.stop() }
        try cluster.start()
        let ca = "\(cluster.folder)/certs/ca.pem"
        var health = (status: Int32(-1), output: "")
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            health = try Self.get(port: port, path: "/healthz", ca: ca)
            if health.status == 0 { break }
            Thread.sleep(forTimeInterval: 0.2)
        }
        #expect(health.status == 0 && health.output.hasPrefix("200"), "\(health.output)\n\(cluster.logs())")
        let stats = try Self.get(port: port, path: "/v1/stats", token: cluster.token, ca: ca)
        #expect(stats.status == 0 && stats.output.hasPrefix("200") && stats.output.contains("total_vectors"), "\(stats.output)")
        let noToken = try Self.get(port: port, path: "/v1/stats", ca: ca)
        #expect(noToken.output.hasPrefix("401"), "\(noToken.output)")
        // Without the cluster's CA the handshake fails.
        let untrusted = try Self.get(port: port, path: "/healthz", ca: nil)
        #expect(untrusted.status == 3 && untrusted.output.contains("CERTIFICATE_VERIFY_FAILED"), "\(untrusted.output)")
        // In the clear: no HTTP answer.
        let clear = try? HTTPProbe.send(port: port, method: "GET", path: "/healthz")
        #expect(clear == nil || clear?.status != 200, "a plaintext request was answered: \(String(describing: clear))")
    }
}

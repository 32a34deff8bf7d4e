import Foundation
import Testing

/// `sightline config show`: how the scripts read cluster files (never with sed).
@Suite struct ConfigCLITests {
    static let config = """
        cluster = 'demo'            # a literal string
        token = "secret"
        listen = "tcp://127.0.0.1:7700"
        data = 'runs/demo/coordinator'
        index = { dimension = 16, nlist = 16, m = 4 }
        [[workers]]
        shard = 0
        url = 'tcp://127.0.0.1:7701'
        [[workers]]
        shard = 1
        url = "tcp://127.0.0.1:7702"
        data = "runs/demo/worker-1"
        """

    static func write(_ text: String, _ name: String) throws -> String {
        let path = CLI.folder() + "/\(name).toml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func keysComeOutAsTheCoordinatorReadsThem() throws {
        let path = try Self.write(Self.config, "config-show")
        func get(_ key: String) throws -> String { try CLI.run(["config", "show", "--config", path, "--get", key]).stdout }
        #expect(try get("cluster") == "demo\n")
        #expect(try get("index.dimension") == "16\n")
        #expect(try get("workers.url") == "tcp://127.0.0.1:7701\ntcp://127.0.0.1:7702\n")
        // An entry without the key keeps its line, empty: a script's columns never shift.
        #expect(try get("workers.data") == "\nruns/demo/worker-1\n")
        #expect(try get("workers.1.shard") == "1\n")
        #expect(try get("tls.ca") == "")
        let json = try CLI.run(["config", "show", "--config", path, "--json"])
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect(object?["cluster"] as? String == "demo")
        #expect((object?["workers"] as? [[String: Any]])?.count == 2)
        let all = try CLI.run(["config", "show", "--config", path]).stdout
        #expect(all.contains("index.m = 4\n") && all.contains("workers.0.url = tcp://127.0.0.1:7701\n"), "\(all)")
    }

    @Test func aBadFileIsRefusedWithWhereItIsWrong() throws {
        let broken = try Self.write(Self.config.replacingOccurrences(of: "token = \"secret\"", with: "token = \"secret"), "config-broken")
        let result = try CLI.run(["config", "show", "--config", broken, "--get", "cluster"])
        #expect(result.status == 2 && result.stdout.isEmpty)
        #expect(result.stderr.contains("config line 2"), "\(result.stderr)")
        let unchecked = try Self.write(Self.config.replacingOccurrences(of: "m = 4", with: "m = 5"), "config-unchecked")
        let refused = try CLI.run(["config", "show", "--config", unchecked])
        #expect(refused.status == 2 && refused.stderr.contains("m must divide d"), "\(refused.stderr)")
    }
}

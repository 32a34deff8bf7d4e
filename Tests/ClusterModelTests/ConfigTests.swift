import ErrorKinds
import Foundation
import Testing
@testable import ClusterModel

@Suite struct ConfigTests {
    static let valid = """
        # a comment
        cluster = "prod"          # trailing comment
        token = "a#b"
        listen = "tcp://127.0.0.1:7700"
        data = "runs/coordinator"
        deadline_ms = 1_500
        [index]
        dimension = 128
        nlist = 1024
        m = 16
        store_vectors = true
        nprobe = 12
        [[workers]]
        shard = 0
        url = "tcp://10.0.0.1:7701"
        host = "alpha"
        [[workers]]
        shard = 7
        url = "ipc:///tmp/w7"
        """

    @Test func readsEveryKeyWithDefaults() throws {
        let config = try ClusterConfig(parsing: Self.valid)
        #expect(config.cluster == "prod")
        #expect(config.token == "a#b")  // '#' inside quotes is not a comment
        #expect(config.deadlineMilliseconds == 1500)
        #expect(config.collection == "default")
        #expect(config.replication == 1)
        #expect(config.searchBatchInFlight == ClusterConfig.defaultSearchBatchInFlight)
        #expect(config.index == IndexSettings(dimension: 128, nlist: 1024, m: 16, metric: "l2", storesVectors: true, defaultNprobe: 12))
        #expect(config.workers.map(\.shard) == [ShardID(0), ShardID(7)])
        #expect(config.workers[0].host == "alpha")
        #expect(config.workers[1].host == nil)
    }

    static func replacing(_ old: String, with new: String) -> String {
        precondition(valid.contains(old), "test edits must change the text")
        return valid.replacingOccurrences(of: old, with: new)
    }

    @Test(arguments: [
        (replacing("cluster = \"prod\"", with: ""), "lacks \"cluster\""),
        (replacing("nlist = 1024", with: "nlist = \"many\""), "\"nlist\" must be an integer"),
        (replacing("m = 16", with: "m = 15"), "m must divide d"),
        (replacing("shard = 7", with: "shard = 0"), "same shard id"),
        (replacing("ipc:///tmp/w7", with: "tcp://10.0.0.1:7701"), "share one url"),
        (replacing("ipc:///tmp/w7", with: "http://x"), "is not a tcp://"),
        (replacing("deadline_ms = 1_500", with: "deadline_ms = 0"), "deadline_ms must be positive"),
        (replacing("deadline_ms = 1_500", with: "search_batch_in_flight = -1"), "search_batch_in_flight must be 0"),
        (replacing("deadline_ms = 1_500", with: "replication = 4"), "replication = 4"),
        (replacing("deadline_ms = 1_500", with: "replication = 2")
            .replacingOccurrences(of: "shard = 7", with: "shard = 0\nhost = \"alpha\""),
         "share a host"),
        (replacing("deadline_ms = 1_500", with: "replication = 1").replacingOccurrences(of: "shard = 7", with: "shard = 0"),
         "same shard id"),
        (replacing("[index]", with: "[index"), "config line 7"),
        (replacing("m = 16", with: "m 16"), "config line 10"),
        (replacing("data = \"runs/coordinator\"", with: "data = \"unterminated"), "config line 5"),
        (replacing("m = 16", with: "m = 16\n[index.extra]\nx = 1"), "holds a table \"extra\""),
        (replacing("cluster = \"prod\"", with: "cluster = 1979-05-27"), "\"cluster\" must be a string"),
        (replacing("m = 16", with: "m = 16\nm = 17"), "config line 11"),
        (replacing("shard = 7", with: "shard = -1"), "shard -1"),
        (replacing("[index]", with: "[http]\nlisten = \"tcp://127.0.0.1:80\"\n[index]"), "use http://HOST:PORT"),
        (replacing("[index]", with: "[http]\nlisten = \"http://127.0.0.1:80\"\nmax_body_bytes = 10\n[index]"), "max_body_bytes = 10"),
        (replacing("[index]", with: "[http]\nlisten = \"https://127.0.0.1:80\"\n[index]"), "use http://HOST:PORT (or https://"),
        (replacing("[index]", with: "[http]\nlisten = \"https://127.0.0.1:80\"\ntls = true\n[index]"), "needs a [tls] table"),
        (replacing("[index]", with: "[http]\nlisten = \"http://127.0.0.1:80\"\nmax_connections = 0\n[index]"), "max_connections = 0"),
        (replacing("[index]",
                   with: "[http]\nlisten = \"http://127.0.0.1:80\"\nmax_connections = 10\nmax_connections_per_address = 11\n[index]"),
         "max_connections_per_address = 11"),
        (replacing("[index]", with: "[http]\nlisten = \"http://127.0.0.1:80\"\nheader_timeout_seconds = 0\n[index]"),
         "header_timeout_seconds = 0"),
        (replacing("token = \"a#b\"", with: "")
            .replacingOccurrences(of: "[index]", with: "[http]\nlisten = \"http://0.0.0.0:8080\"\n[index]"),
         "set a token"),
        (replacing("[index]", with: "[http]\nweb_root = \"x\"\n[index]"), "lacks \"listen\""),
    ])
    func refusesBadFilesWithAMessageThatSaysWhere(text: String, mention: String) {
        do {
            _ = try ClusterConfig(parsing: text)
            Issue.record("accepted a bad config; expected \(mention)")
        } catch {
            #expect(error.description.contains(mention), "\(error.description)")
            #expect(error.kind == .badInput)
        }
    }

    /// Valid TOML that the old hand-written subset refused or misread: single-quoted (literal)
    /// strings, an inline table, a comment character inside a literal string, an array value, keys
    /// in quotes. Read as the same configuration.
    @Test func anyValidTOMLReadsTheSame() throws {
        let text = """
            cluster = 'prod'
            "token" = 'a#b'   # a comment after a literal string
            listen = "tcp://127.0.0.1:7700"
            data = 'runs/coordinator'
            deadline_ms = 1_500
            hosts = ["alpha", 'beta']
            index = { dimension = 128, nlist = 1024, m = 16, store_vectors = true, nprobe = 12 }
            [[workers]]
            shard = 0
            url = 'tcp://10.0.0.1:7701'
            host = "alpha"
            [[workers]]
            shard = 7
            url = "ipc:///tmp/w7"
            """
        #expect(try ClusterConfig(parsing: text) == ClusterConfig(parsing: Self.valid))
        let document = try ConfigDocument(parsing: text)
        #expect(try ConfigTable(values: document.root, name: "").strings("hosts") == ["alpha", "beta"])
        #expect(throws: ConfigError.self) { try ConfigTable(values: document.root, name: "").strings("deadline_ms") }
    }

    @Test func readsTheHTTPTable() throws {
        let config = try ClusterConfig(parsing: Self.replacing("[index]", with: """
            [http]
            listen = "http://127.0.0.1:7780"
            web_root = "cluster/web"
            descriptor_model = "pixels"
            [index]
            """))
        #expect(config.http == HTTPSettings(listen: "http://127.0.0.1:7780", webRoot: "cluster/web", descriptorModel: "pixels",
                                            maxBodyBytes: 16 << 20))
        #expect(try ClusterConfig(parsing: Self.valid).http == nil)
    }

    /// With replication 2 a shard may have two workers (the first is its map entry).
    @Test func replicasOfAShard() throws {
        let text = Self.replacing("deadline_ms = 1_500", with: "replication = 2").replacingOccurrences(of: "shard = 7", with: "shard = 0")
        let config = try ClusterConfig(parsing: text + "\n[[workers]]\nshard = 3\nurl = \"tcp://10.0.0.3:7701\"\n")
        #expect(config.replication == 2)
        #expect(config.workers.map(\.shard) == [ShardID(0), ShardID(0), ShardID(3)])
        #expect(config.primaryWorkers.map(\.url) == ["tcp://10.0.0.1:7701", "tcp://10.0.0.3:7701"])
        #expect(throws: ConfigError.self) {
            try ClusterConfig(parsing: text + "\n[[workers]]\nshard = 0\nurl = \"tcp://10.0.0.3:7701\"\n")  // three copies, r = 2
        }
    }

    @Test func clientTokensGrantTheirRoles() throws {
        let config = try ClusterConfig(parsing: Self.valid + "\n[tokens]\nread = \"r\"\nwrite = \"w\"\n")
        #expect(config.readToken == "r" && config.writeToken == "w")
        let tokens = config.accessTokens
        #expect(tokens.role(of: Array("a#b".utf8)) == .cluster)
        #expect(tokens.role(of: Array("w".utf8)) == .write)
        #expect(tokens.role(of: Array("r".utf8)) == .read)
        #expect(tokens.role(of: Array("r\0".utf8)) == nil)
        #expect(tokens.role(of: []) == nil)
        #expect(AccessTokens(cluster: "").role(of: Array("anything".utf8)) == .cluster)
        for bad in ["[tokens]\nread = \"a#b\"", "[tokens]\nread = \"x\"\nwrite = \"x\"", "[tokens]\nwrite = \"\""] {
            #expect(throws: ConfigError.self, "\(bad)") { try ClusterConfig(parsing: Self.valid + "\n" + bad + "\n") }
        }
        let noClusterToken = Self.replacing("token = \"a#b\"", with: "") + "\n[tokens]\nread = \"r\"\n"
        #expect(throws: ConfigError.self) { try ClusterConfig(parsing: noClusterToken) }
    }

    @Test func aConfigWithoutWorkersIsRefused() {
        let text = Self.valid.components(separatedBy: "[[workers]]")[0]
        #expect(throws: ConfigError.invalid("no [[workers]]: add at least one")) { try ClusterConfig(parsing: text) }
    }
}

@Suite struct LoopbackAddressTests {
    @Test(arguments: [("tcp://127.0.0.1:7700", true), ("tcp://127.1.2.3:1", true), ("tcp://localhost:7700", true),
                      ("tcp://[::1]:7700", true), ("ipc:///tmp/x", true), ("inproc://a", true), ("tcp://0.0.0.0:7700", false),
                      ("tcp://10.0.0.1:7701", false), ("tls+tcp://127.0.0.1:1", true), ("tcp://localhost.example.com:1", false),
                      ("tcp://1270.0.0.1:1", false), ("tcp://127.0.0.1.example.com:1", false)])
    func onlyThisMachineCountsAsLoopback(url: String, loopback: Bool) {
        #expect(isLoopbackAddress(url) == loopback)
    }

    @Test func anEmptyTokenIsRefusedOffLoopback() {
        let open = ConfigTests.replacing("token = \"a#b\"", with: "token = \"\"")
        let exposed = open.replacingOccurrences(of: "tcp://127.0.0.1:7700", with: "tcp://0.0.0.0:7700")
        #expect(throws: ConfigError.self) { try ClusterConfig(parsing: exposed) }
        #expect((try? ClusterConfig(parsing: open)) != nil)
    }
}

/// `write_quorum`: how many copies must apply a write before it is acknowledged.
@Suite struct WriteQuorumTests {
    static func config(_ line: String, replication: Int = 3) throws -> ClusterConfig {
        try ClusterConfig(parsing: ConfigTests.valid.replacingOccurrences(
            of: "deadline_ms = 1_500", with: "deadline_ms = 1_500\nreplication = \(replication)\n\(line)"))
    }

    @Test func defaultsToAMajorityAndCountsCopies() throws {
        #expect(try Self.config("").writeQuorum == .majority)
        #expect(try Self.config("write_quorum = \"all\"").writeQuorum == .all)
        #expect(try Self.config("write_quorum = 2").writeQuorum == .count(2))
        #expect(WriteQuorum.majority.required(copies: 1) == 1)
        #expect(WriteQuorum.majority.required(copies: 2) == 2)
        #expect(WriteQuorum.majority.required(copies: 3) == 2)
        #expect(WriteQuorum.all.required(copies: 3) == 3)
        #expect(WriteQuorum.count(2).required(copies: 1) == 1)   // a shard with fewer copies: all of them
        #expect(WriteQuorum.count(1).required(copies: 3) == 1)
    }

    @Test func refusesWhatCouldNeverBeMet() {
        for line in ["write_quorum = \"most\"", "write_quorum = 0", "write_quorum = 4", "write_quorum = true"] {
            #expect(throws: ConfigError.self, "\(line)") { try Self.config(line) }
        }
        #expect(throws: ConfigError.self) { try Self.config("write_quorum = 3", replication: 2) }
    }
}

/// One worker of the cluster: the shard it holds and where to reach it. `host`, `data` and
/// `binary` are read by `scripts/launch-hosts` to start it over ssh.
public struct WorkerEntry: Sendable, Equatable {
    public var shard: ShardID
    public var url: String
    public var host: String?
    public var dataDirectory: String?
    public var binary: String?
}

/// Index parameters of the cluster's collection.
public struct IndexSettings: Sendable, Equatable {
    public var dimension: Int
    public var nlist: Int
    public var m: Int
    public var metric: String
    public var storesVectors: Bool
    /// Used when a request says nprobe 0.
    public var defaultNprobe: Int
    /// Bits per PQ code (`pq_bits`): 8, or 4 for the fast scan.
    public var pqBits: Int = 8
    /// Rotate residuals with a learned OPQ matrix before PQ (`opq`).
    public var opq = false
}

/// The `[tls]` table: PEM files of the cluster's CA and of the coordinator's certificate and key,
/// and the name every node's certificate carries.
public struct TLSFiles: Sendable, Equatable {
    public var certificateAuthority: String
    public var certificate: String
    public var key: String
    public var serverName: String
}

/// The `[http]` table: the coordinator's HTTP/JSON API and web page beside its nng endpoint.
public struct HTTPSettings: Sendable, Equatable {
    /// `http://HOST:PORT`; the same tokens as the nng API (`Authorization: Bearer …`).
    public var listen: String
    /// Directory of the web page (index.html, app.js, style.css, openapi.json); nil: API only.
    public var webRoot: String?
    /// How images become descriptors for `/v1/search/image`, `/v1/verify` and `/v1/identify`:
    /// `"pixels"` (the grey pixels themselves, a square image of `dimension` pixels) or the path
    /// of a descriptor model from `sightline train-descriptor`; nil: image routes answer 400.
    public var descriptorModel: String?
    /// Largest request body accepted (bytes); larger ones get 413 before they are parsed.
    public var maxBodyBytes: Int
    /// HTTP connections open at once, over all peers and from one address; past either a new
    /// connection is answered 503 and closed.
    public var maxConnections: Int = 1024
    public var maxConnectionsPerAddress: Int = 128
    /// Seconds a request's head may take from its first byte, and an idle connection may wait
    /// for its next request, before the connection is closed.
    public var headerTimeoutSeconds: Int = 10
    public var idleTimeoutSeconds: Int = 60
    /// HTTPS with the coordinator's certificate and key from `[tls]` (`listen` is then `https://`).
    public var tls: Bool = false
}

/// A cluster configuration file (see cluster/local.toml for every key, documented).
public struct ClusterConfig: Sendable, Equatable {
    /// Searches in flight before one-query searches share batches: with 8 clients on 2 cores it
    /// cut the coordinator's CPU a query by a quarter and the workers' by a sixth, answers
    /// unchanged (docs/BENCHMARKS.md); a lone client never waits.
    public static let defaultSearchBatchInFlight = 2
    public var cluster: String
    /// The cluster's own token: the coordinator's traffic to workers, and full access.
    public var token: String
    /// Optional client tokens (`[tokens]`): `write` adds, deletes and reads; `read` only reads.
    public var writeToken: String?
    public var readToken: String?
    /// TLS on every link when set; then every address must be `tls+tcp://`.
    public var tls: TLSFiles?
    public var listen: String
    public var dataDirectory: String
    public var collection: String
    /// Copies of each shard (1–3): `[[workers]]` may list up to this many workers per shard id.
    public var replication: Int
    /// Copies of a replicated shard that must apply a write before it is acknowledged.
    public var writeQuorum: WriteQuorum
    /// Default search deadline in milliseconds.
    public var deadlineMilliseconds: Int
    /// How long a single-query search that arrives while others run waits for more to share its
    /// batch (microseconds; 0 = never batch).
    public var searchBatchWindowMicroseconds: Int
    /// With no window: one-query searches go out at once while fewer than this many are in
    /// flight, else they share a batch that leaves when one in flight answers (0 = never batch).
    public var searchBatchInFlight: Int
    public var index: IndexSettings
    public var workers: [WorkerEntry]
    public var http: HTTPSettings?

    public init(parsing text: String) throws(ConfigError) {
        let document = try ConfigDocument(parsing: text)
        let root = ConfigTable(values: document.root, name: "")
        cluster = try root.string("cluster")
        token = try root.string("token", default: "")
        listen = try root.string("listen")
        dataDirectory = try root.string("data")
        collection = try root.string("collection", default: "default")
        replication = try root.integer("replication", default: 1)
        writeQuorum = try WriteQuorum(parsing: root.values["write_quorum"])
        deadlineMilliseconds = try root.integer("deadline_ms", default: 2000)
        searchBatchWindowMicroseconds = try root.integer("search_batch_window_us", default: 0)
        searchBatchInFlight = try root.integer("search_batch_in_flight", default: ClusterConfig.defaultSearchBatchInFlight)
        let tokens = ConfigTable(values: document.tables["tokens"] ?? [:], name: "tokens")
        writeToken = try tokens.optionalString("write")
        readToken = try tokens.optionalString("read")
        if let values = document.tables["tls"] {
            let table = ConfigTable(values: values, name: "tls")
            tls = TLSFiles(certificateAuthority: try table.string("ca"), certificate: try table.string("cert"),
                           key: try table.string("key"),
                           serverName: try table.string("server_name", default: "sightline"))
        }
        if let values = document.tables["http"] {
            let table = ConfigTable(values: values, name: "http")
            http = HTTPSettings(listen: try table.string("listen"), webRoot: try table.optionalString("web_root"),
                                descriptorModel: try table.optionalString("descriptor_model"),
                                maxBodyBytes: try table.integer("max_body_bytes", default: 16 << 20),
                                maxConnections: try table.integer("max_connections", default: 1024),
                                maxConnectionsPerAddress: try table.integer("max_connections_per_address", default: 128),
                                headerTimeoutSeconds: try table.integer("header_timeout_seconds", default: 10),
                                idleTimeoutSeconds: try table.integer("idle_timeout_seconds", default: 60),
                                tls: try table.boolean("tls", default: false))
        }
        guard let indexValues = document.tables["index"] else { throw .missing(key: "[index]", table: "") }
        let table = ConfigTable(values: indexValues, name: "index")
        index = IndexSettings(
            dimension: try table.integer("dimension"), nlist: try table.integer("nlist"), m: try table.integer("m"),
            metric: try table.string("metric", default: "l2"), storesVectors: try table.boolean("store_vectors", default: false),
            defaultNprobe: try table.integer("nprobe", default: 8), pqBits: try table.integer("pq_bits", default: 8),
            opq: try table.boolean("opq", default: false))
        var workers: [WorkerEntry] = []
        for values in document.arrays["workers"] ?? [] {
            let entry = ConfigTable(values: values, name: "[workers]")
            let shard = try entry.integer("shard")
            guard shard >= 0, shard <= Int(UInt32.max) else { throw .invalid("shard \(shard) must be between 0 and \(UInt32.max)") }
            workers.append(WorkerEntry(shard: ShardID(UInt32(shard)), url: try entry.string("url"), host: try entry.optionalString("host"),
                                       dataDirectory: try entry.optionalString("data"), binary: try entry.optionalString("binary")))
        }
        self.workers = workers
        try validate()
    }

    /// One worker per shard: the first listed (the shard map's entry).
    public var primaryWorkers: [WorkerEntry] {
        var seen = Set<ShardID>()
        return workers.filter { seen.insert($0.shard).inserted }
    }

    /// The tokens the coordinator accepts and their roles.
    public var accessTokens: AccessTokens { AccessTokens(cluster: token, write: writeToken, read: readToken) }

    func validate() throws(ConfigError) {
        guard !cluster.isEmpty else { throw .invalid("cluster name must not be empty") }
        let clientTokens = [writeToken, readToken].compactMap { $0 }
        guard clientTokens.isEmpty || !token.isEmpty else {
            throw .invalid("[tokens] needs the cluster token too: set token = \"…\" at the top level")
        }
        guard clientTokens.allSatisfy({ !$0.isEmpty }), Set(clientTokens + [token]).count == clientTokens.count + 1 else {
            throw .invalid("[tokens]: read and write tokens must be non-empty and differ from each other and from token")
        }
        guard !token.isEmpty || isLoopbackAddress(listen) else {
            throw .invalid("token is empty while listen = \(listen) is reachable from other hosts: set a token (or listen on 127.0.0.1)")
        }
        guard (1 ... 3).contains(replication) else { throw .invalid("replication = \(replication): use 1, 2 or 3") }
        if case .count(let number) = writeQuorum, number > replication {
            throw .invalid("write_quorum = \(number) is more than replication = \(replication): no write could ever be acknowledged")
        }
        guard !workers.isEmpty else { throw .invalid("no [[workers]]: add at least one") }
        guard Set(workers.map(\.url)).count == workers.count else { throw .invalid("two workers share one url") }
        for (shard, replicas) in Dictionary(grouping: workers, by: \.shard) {
            guard replicas.count <= replication else {
                throw .invalid("shard \(shard) has \(replicas.count) workers but replication = \(replication): "
                               + (replication == 1 ? "two workers hold the same shard id" : "list at most \(replication) per shard"))
            }
            let hosts = replicas.compactMap(\.host)
            guard Set(hosts).count == hosts.count else {
                throw .invalid("shard \(shard)'s replicas share a host: place each copy on its own host")
            }
        }
        guard index.dimension >= 1, index.nlist >= 1, index.m >= 1, index.dimension % index.m == 0 else {
            throw .invalid("index: d=\(index.dimension), nlist=\(index.nlist), m=\(index.m): m must divide d and all must be positive")
        }
        guard index.metric == "l2" || index.metric == "ip" else { throw .invalid("index.metric must be \"l2\" or \"ip\"") }
        guard index.pqBits == 8 || index.pqBits == 4 else { throw .invalid("index.pq_bits must be 8 or 4") }
        guard deadlineMilliseconds >= 1 else { throw .invalid("deadline_ms must be positive") }
        guard (0 ... 100_000).contains(searchBatchWindowMicroseconds) else {
            throw .invalid("search_batch_window_us must be 0 (no batching) … 100000")
        }
        guard (0 ... 1024).contains(searchBatchInFlight) else {
            throw .invalid("search_batch_in_flight must be 0 (no batching) … 1024")
        }
        if let http { try validate(http) }
        for url in [listen] + workers.map(\.url) {
            if tls != nil {
                guard url.hasPrefix("tls+tcp://") else { throw .invalid("\(url) is plaintext while [tls] is set: use tls+tcp://") }
            } else if url.hasPrefix("tls+tcp://") {
                throw .invalid("\(url) needs a [tls] table (ca, cert, key)")
            } else if !(url.hasPrefix("tcp://") || url.hasPrefix("ipc://") || url.hasPrefix("inproc://")) {
                throw .invalid("\(url) is not a tcp://, tls+tcp://, ipc:// or inproc:// address")
            }
        }
    }

    func validate(_ http: HTTPSettings) throws(ConfigError) {
        if http.tls {
            guard tls != nil else { throw .invalid("http.tls = true needs a [tls] table (its cert and key serve HTTPS)") }
            guard http.listen.hasPrefix("https://") else {
                throw .invalid("http.listen = \(http.listen): with http.tls use https://HOST:PORT")
            }
        } else {
            guard http.listen.hasPrefix("http://") else {
                throw .invalid("http.listen = \(http.listen): use http://HOST:PORT (or https:// with http.tls = true and a [tls] table)")
            }
        }
        guard !token.isEmpty || isLoopbackAddress(http.listen) else {
            throw .invalid("token is empty while http.listen = \(http.listen) is reachable from other hosts: set a token")
        }
        guard (1 << 10 ... 256 << 20).contains(http.maxBodyBytes) else {
            throw .invalid("http.max_body_bytes = \(http.maxBodyBytes): use 1024 … 268435456")
        }
        // Each HTTP connection holds a file descriptor of the process whose nng links to workers
        // draw on the same limit (`ulimit -n`; 65,536 in the systemd units): keep the HTTP side
        // well under it.
        guard (1 ... 10_000).contains(http.maxConnections) else {
            throw .invalid("http.max_connections = \(http.maxConnections): use 1 … 10000")
        }
        guard (1 ... http.maxConnections).contains(http.maxConnectionsPerAddress) else {
            throw .invalid("http.max_connections_per_address = \(http.maxConnectionsPerAddress): "
                           + "use 1 … max_connections (\(http.maxConnections))")
        }
        for (key, value) in [("header_timeout_seconds", http.headerTimeoutSeconds), ("idle_timeout_seconds", http.idleTimeoutSeconds)]
        where !(1 ... 3600).contains(value) {
            throw .invalid("http.\(key) = \(value): use 1 … 3600")
        }
    }
}

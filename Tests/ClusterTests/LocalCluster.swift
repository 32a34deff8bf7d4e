import ClusterClient
import Foundation
import Synchronization
import Testing
import Transport
import Wire

/// Real worker and coordinator processes on loopback for one test, each in its own folder, on
/// ports the kernel hands out. `stop()` ends exactly the processes it started.
final class LocalCluster: @unchecked Sendable {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    /// The executables under test: this checkout's release build, or those in
    /// `$SIGHTLINE_TEST_BIN` (to show that a test fails on an older build).
    static func binary(_ name: String) -> String {
        if let folder = ProcessInfo.processInfo.environment["SIGHTLINE_TEST_BIN"] { return "\(folder)/\(name)" }
        return root.appendingPathComponent(".build/release/\(name)").path
    }

    let folder: String
    let clusterName: String
    let token: String
    let coordinatorURL: String
    var workerURLs: [String]
    var workers: [Int: Process] = [:]
    var coordinator: Process?
    let configPath: String
    /// Wraps each command, e.g. ["ip", "netns", "exec", NS] for a worker in a namespace.
    var launchPrefix: (_ role: String) -> [String] = { _ in [] }

    /// With `tls`, every link is `tls+tcp://` with certificates from `scripts/make-certs`.
    init(name: String, workerCount: Int, index: (dimension: Int, nlist: Int, m: Int), codebooks: [UInt8],
         token: String = "test-token", urls: (coordinator: String, workers: [String])? = nil, maxFrameBytes: Int? = nil,
         tls: Bool = false, configuredWorkers: Int? = nil, replication: Int = 1, topLevel: String = "", tables: String = "",
         hosts: [String]? = nil) throws {
        self.replication = replication
        folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("sightline-\(name)-\(getpid())-\(UInt32.random(in: 0 ... .max))").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        self.token = token
        clusterName = "test-\(name)"
        let scheme = tls ? "tls+tcp" : "tcp"
        coordinatorURL = urls?.coordinator ?? "\(scheme)://127.0.0.1:\(LocalCluster.freePort())"
        workerURLs = urls?.workers ?? (0 ..< workerCount).map { _ in "\(scheme)://127.0.0.1:\(LocalCluster.freePort())" }
        certificates = tls ? "\(folder)/certs" : nil
        if let certificates {
            let status = TestHosts.run([LocalCluster.root.appendingPathComponent("scripts/make-certs").path, certificates,
                                        "coordinator", "worker"])
            guard status == 0 else { throw ClusterTestError.notHealthy("scripts/make-certs failed (\(status))") }
        }
        try Data(codebooks).write(to: URL(fileURLWithPath: "\(folder)/codebooks.slix"))
        var config = """
            cluster = "\(clusterName)"
            token = "\(token)"
            listen = "\(coordinatorURL)"
            data = "\(folder)/coordinator"
            deadline_ms = 2000
            replication = \(replication)
            \(topLevel)
            [index]
            dimension = \(index.dimension)
            nlist = \(index.nlist)
            m = \(index.m)
            nprobe = 4

            """
        if let certificates {
            config += "[tls]\nca = \"\(certificates)/ca.pem\"\ncert = \"\(certificates)/coordinator.pem\"\n"
                + "key = \"\(certificates)/coordinator.key\"\n"
        }
        self.configuredWorkers = configuredWorkers ?? workerURLs.count
        for (shard, url) in workerURLs.prefix(self.configuredWorkers).enumerated() {
            config += "[[workers]]\nshard = \(shard / replication)\nurl = \"\(url)\"\ndata = \"\(folder)/worker-\(shard)\"\n"
                + (hosts.map { "host = \"\($0[shard])\"\n" } ?? "")
        }
        config += tables
        configPath = "\(folder)/cluster.toml"
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
        self.maxFrameBytes = maxFrameBytes
    }

    let maxFrameBytes: Int?
    /// Copies of each shard: workers 0 … r−1 hold shard 0, r … 2r−1 shard 1, and so on.
    let replication: Int
    /// Workers the config names (the others join with `sightline cluster add-worker`).
    let configuredWorkers: Int
    /// Extra arguments for the coordinator (e.g. --threads 2).
    var coordinatorArguments: [String] = []
    /// Each move step pauses this long in the coordinator (through its test-hook environment variable).
    var moveStepPauseMilliseconds: Int?
    /// The folder of the CA and node certificates when the cluster runs TLS.
    let certificates: String?

    /// What a client needs to reach a TLS cluster: the CA (the coordinator does not ask clients
    /// for certificates; workers do, and accept the coordinator's).
    var clientTLS: TLSSettings? { certificates.map { TLSSettings(certificateAuthorityFile: "\($0)/ca.pem") } }

    /// What a test needs to speak to a worker directly: a certificate of the cluster's CA.
    var nodeTLS: TLSSettings? {
        certificates.map { TLSSettings(certificateAuthorityFile: "\($0)/ca.pem", certificateFile: "\($0)/coordinator.pem",
                                       keyFile: "\($0)/coordinator.key") }
    }

    /// Ports handed out in this process: the kernel may offer a released port again at once, and
    /// two workers of one cluster must not get the same one.
    static let handedOut = Mutex<Set<Int>>([])

    /// A port nobody listens on now and that no earlier call returned.
    static func freePort() -> Int {
        while true {
            let port = anyFreePort()
            if handedOut.withLock({ $0.insert(port).inserted }) { return port }
        }
    }

    /// A port nobody listens on now (bound to 0, read back, released).
    static func anyFreePort() -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    func launch(_ arguments: [String], role: String, log: String) throws -> Process {
        let process = Process()
        let command = launchPrefix(role) + arguments
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        // Appended across restarts: a fault schedule reads the whole history of a process.
        if !FileManager.default.fileExists(atPath: log) { _ = FileManager.default.createFile(atPath: log, contents: nil) }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        var environment = ProcessInfo.processInfo.environment
        environment["SIGHTLINE_TOKEN"] = token
        if role == "coordinator", let moveStepPauseMilliseconds {
            environment["SIGHTLINE_TEST_MOVE_STEP_PAUSE_MS"] = "\(moveStepPauseMilliseconds)"
        }
        process.environment = environment
        try process.run()
        return process
    }

    /// Starts worker `shard` (an index into `workerURLs`) holding shard `index / replication`,
    /// or `as` when given.
    func startWorker(_ shard: Int, as held: Int? = nil) throws {
        // Never two processes for one shard: an orphan would outlive the test.
        kill(shard: shard)
        workers[shard] = try launch(
            [LocalCluster.binary("sightline-worker"), "--listen", workerURLs[shard], "--data", "\(folder)/worker-\(shard)",
             "--cluster", clusterName, "--shard", "\(held ?? shard / replication)"]
                + (maxFrameBytes.map { ["--max-frame-bytes", "\($0)"] } ?? [])
                + (certificates.map {
                    ["--tls-ca", "\($0)/ca.pem", "--tls-cert", "\($0)/worker.pem", "--tls-key", "\($0)/worker.key"]
                } ?? []),
            role: "worker-\(shard)", log: "\(folder)/worker-\(shard).log")
    }

    func start(waitForHealth: Bool = true) throws {
        for shard in workerURLs.indices { try startWorker(shard) }
        try startCoordinator()
        if waitForHealth { try waitUntilHealthy() }
    }

    func startCoordinator() throws {
        coordinator = try launch(
            [LocalCluster.binary("sightline-coordinator"), "--config", configPath, "--codebooks", "\(folder)/codebooks.slix"]
                + coordinatorArguments + (maxFrameBytes.map { ["--max-frame-bytes", "\($0)"] } ?? []),
            role: "coordinator", log: "\(folder)/coordinator.log")
    }

    func client(token: String? = nil, collection: String = "") throws -> ServiceClient {
        try ServiceClient(url: coordinatorURL, token: token ?? self.token, collection: collection, tls: clientTLS)
    }

    /// Waits until the coordinator reports every worker reachable with the codebooks installed.
    func waitUntilHealthy(timeout: Double = 60) throws {
        let client = try client()
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let health = try? client.health(), health.shards.count == configuredWorkers / replication,
               health.state == "serving" { return }
            Thread.sleep(forTimeInterval: 0.2)
        }
        throw ClusterTestError.notHealthy(logs())
    }

    /// Runs `sightline ARGUMENTS` with the cluster's token; returns its exit status and output.
    func sightline(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: LocalCluster.binary("sightline"))
        process.arguments = arguments + ["--coordinator", coordinatorURL, "--token", token]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }

    func killCoordinator() {
        guard let process = coordinator, process.isRunning else { return }
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    func kill(shard: Int, signal: Int32 = SIGKILL) {
        guard let process = workers[shard], process.isRunning else { return }
        Glibc.kill(process.processIdentifier, signal)
        process.waitUntilExit()
    }

    /// Sends `signal` (e.g. SIGSTOP, SIGCONT) to a worker without waiting for it to end.
    func signal(shard: Int, _ signal: Int32) {
        guard let process = workers[shard], process.isRunning else { return }
        Glibc.kill(process.processIdentifier, signal)
        guard signal == SIGSTOP else { return }
        // The signal is asynchronous: wait until the kernel shows the process stopped ("T").
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            let stat = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8)) ?? ""
            if let state = stat.split(separator: ")").last?.split(separator: " ").first, state == "T" { return }
            Thread.sleep(forTimeInterval: 0.01)
        }
    }

    func stop() {
        for process in [coordinator].compactMap({ $0 }) + workers.values where process.isRunning {
            Glibc.kill(process.processIdentifier, SIGTERM)
        }
        for process in [coordinator].compactMap({ $0 }) + workers.values {
            let deadline = Date().addingTimeInterval(5)
            while process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
            if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
        }
    }

    func logs() -> String {
        (try? FileManager.default.contentsOfDirectory(atPath: folder))?.filter { $0.hasSuffix(".log") }.sorted().map { name in
            "== \(name)\n" + ((try? String(contentsOfFile: "\(folder)/\(name)", encoding: .utf8)) ?? "").suffix(2000)
        }.joined(separator: "\n") ?? ""
    }

    deinit { stop() }
}

enum ClusterTestError: Error { case notHealthy(String) }

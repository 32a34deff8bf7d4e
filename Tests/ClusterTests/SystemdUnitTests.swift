import ClusterClient
import Datasets
import Foundation
import Testing
import VectorIndex
import VectorMath
import Wire

/// How a cluster is launched on several hosts: scripts/launch-hosts over real sshd on namespace
/// hosts, and the systemd units of cluster/systemd (`systemd-analyze verify` accepts them, and their
/// ExecStart lines, expanded as systemd would, start a worker and a coordinator that serve).
@Suite(.serialized) struct LaunchTests {
    static let units = LocalCluster.root.appendingPathComponent("cluster/systemd").path

    @Test func unitsPassSystemdAnalyzeVerify() throws {
        let folder = try UnitFiles.folder("verify")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for (source, name) in [("sightline-worker@.service", "sightline-worker@0.service"),
                               ("sightline-coordinator.service", "sightline-coordinator.service")] {
            let text = try String(contentsOfFile: "\(Self.units)/\(source)", encoding: .utf8)
            let verdict = try UnitFiles.verify(UnitFiles.withBuiltBinaries(text), as: name, in: folder)
            #expect(verdict.accepted, "systemd-analyze verify refused \(source):\n\(verdict.output)")
        }
        // The check catches broken units: no ExecStart, a binary that is not there, a setting systemd ignores.
        let worker = UnitFiles.withBuiltBinaries(try String(contentsOfFile: "\(Self.units)/sightline-worker@.service", encoding: .utf8))
        let broken = [
            "no ExecStart": worker.replacingOccurrences(of: "ExecStart=", with: "# ExecStart="),
            "missing binary": worker.replacingOccurrences(of: LocalCluster.binary("sightline-worker"),
                                                          with: "/nonexistent/sightline-worker"),
            "bad Restart": worker.replacingOccurrences(of: "Restart=on-failure", with: "Restart=sometimes"),
        ]
        for (what, text) in broken {
            let verdict = try UnitFiles.verify(text, as: "sightline-worker@0.service", in: folder)
            #expect(!verdict.accepted, "a unit with \(what) passed:\n\(verdict.output)")
        }
    }

    @Test func unitsSayWhatTheyShould() throws {
        let worker = UnitFiles.settings(try String(contentsOfFile: "\(Self.units)/sightline-worker@.service", encoding: .utf8))
        let coordinator = UnitFiles.settings(try String(contentsOfFile: "\(Self.units)/sightline-coordinator.service", encoding: .utf8))
        for unit in [worker, coordinator] {
            for setting in ["Restart=on-failure", "User=sightline", "ProtectSystem=strict", "NoNewPrivileges=yes", "PrivateTmp=yes",
                            "StateDirectory=sightline"] {
                #expect(unit.contains(setting), "\(setting) missing")
            }
            #expect(unit.contains { $0.hasPrefix("RestartSec=") })
            // The token never sits in the unit or its environment.
            #expect(!unit.contains { $0.hasPrefix("Environment=") && $0.contains("TOKEN") })
        }
        #expect(worker.contains("LoadCredential=token:/etc/sightline/token"))
        #expect(worker.contains("EnvironmentFile=/etc/sightline/worker-%i.env"))
        let workerStart = worker.first { $0.hasPrefix("ExecStart=") } ?? ""
        #expect(workerStart.hasPrefix("ExecStart=/usr/local/bin/sightline-worker "))
        for part in ["--listen ${LISTEN}", "--data ${DATA}", "--cluster ${CLUSTER}", "--shard %i",
                     "--token-file ${CREDENTIALS_DIRECTORY}/token"] {
            #expect(workerStart.contains(part), "worker ExecStart lacks \(part)")
        }
        #expect(coordinator.contains("LoadCredential=cluster.toml:/etc/sightline/cluster.toml"))
        let coordinatorStart = coordinator.first { $0.hasPrefix("ExecStart=") } ?? ""
        #expect(coordinatorStart.hasPrefix("ExecStart=/usr/local/bin/sightline-coordinator --config ${CREDENTIALS_DIRECTORY}/cluster.toml"))
    }

    /// Runs both units' ExecStart as systemd would (EnvironmentFile, %i, LoadCredential into a
    /// credentials folder), with /etc/sightline mapped to a temporary folder, on loopback.
    @Test func unitCommandLinesServe() throws {
        let folder = try UnitFiles.folder("run")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let etc = "\(folder)/etc"
        try FileManager.default.createDirectory(atPath: etc, withIntermediateDirectories: true)
        let token = "unit-token-\(UInt32.random(in: 0 ... .max))"
        let workerURL = "tcp://127.0.0.1:\(LocalCluster.freePort())", coordinatorURL = "tcp://127.0.0.1:\(LocalCluster.freePort())"
        try "\(token)\n".write(toFile: "\(etc)/token", atomically: true, encoding: .utf8)
        try "LISTEN=\(workerURL)\nDATA=\(folder)/worker-0\nCLUSTER=test-units\n"
            .write(toFile: "\(etc)/worker-0.env", atomically: true, encoding: .utf8)
        try Data(SmallData.codebooks).write(to: URL(fileURLWithPath: "\(etc)/codebooks.slix"))
        try """
            cluster = "test-units"
            token = "\(token)"
            listen = "\(coordinatorURL)"
            data = "\(folder)/coordinator"
            [index]
            dimension = 16
            nlist = 16
            m = 4
            [[workers]]
            shard = 0
            url = "\(workerURL)"

            """.write(toFile: "\(etc)/cluster.toml", atomically: true, encoding: .utf8)

        var processes: [Process] = []
        defer { UnitFiles.stop(processes) }
        for (unit, instance) in [("sightline-worker@.service", "0"), ("sightline-coordinator.service", "")] {
            let text = try String(contentsOfFile: "\(Self.units)/\(unit)", encoding: .utf8)
            let command = try UnitFiles.command(of: UnitFiles.settings(text), instance: instance, etc: etc,
                                                credentials: "\(folder)/credentials-\(unit)")
            processes.append(try UnitFiles.launch(command, log: "\(folder)/\(unit).log"))
        }
        let coordinator = try ServiceClient(url: coordinatorURL, token: token)
        var health: HealthReply?
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, health == nil {
            if let reply = try? coordinator.health(), reply.state == "serving", reply.shards.count == 1,
               reply.shards.allSatisfy(\.reachable) { health = reply } else { Thread.sleep(forTimeInterval: 0.2) }
        }
        try #require(health != nil, "the units' command lines never served:\n\(UnitFiles.logs(folder))")
        // The worker took its token from the credential file: a wrong token is refused.
        #expect(throws: (any Error).self) { try ServiceClient(url: workerURL, token: "wrong").health() }
        #expect(try ServiceClient(url: workerURL, token: token).health().cluster == "test-units")
        // SIGTERM (the units' KillSignal) stops both cleanly.
        for process in processes { kill(process.processIdentifier, SIGTERM) }
        for process in processes {
            #expect(UnitFiles.wait(process, seconds: 10) == 0,
                    "\(process.arguments ?? []) did not stop cleanly:\n\(UnitFiles.logs(folder))")
        }
    }
}

/// Unit files as the tests arrange them.
enum UnitFiles {
    static func folder(_ name: String) throws -> String {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("sightline-units-\(name)-\(getpid())-\(UInt32.random(in: 0 ... .max))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// ExecStart names /usr/local/bin; verify checks that the binary exists, so point it at this build.
    static func withBuiltBinaries(_ text: String) -> String {
        let folder = URL(fileURLWithPath: LocalCluster.binary("sightline-worker")).deletingLastPathComponent().path
        return text.replacingOccurrences(of: "/usr/local/bin/", with: "\(folder)/")
    }

    /// Writes `text` as `folder/name` (a template needs an instance name, e.g. sightline-worker@0.service)
    /// and runs `systemd-analyze verify` on it: accepted when it exits 0 and no line of its output names the unit.
    static func verify(_ text: String, as name: String, in folder: String) throws -> (accepted: Bool, output: String) {
        let analyze = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].first { FileManager.default.isExecutableFile(atPath: $0) }
        let tool = try #require(analyze, "systemd-analyze is missing (Debian's systemd package)")
        let path = "\(folder)/\(name)"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let log = "\(folder)/verify.log"
        let process = try launch([tool, "verify", path], log: log)
        let status = wait(process, seconds: 60)
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        let complaints = output.split(separator: "\n").filter { $0.contains(name) || $0.contains(folder) }
        return (status == 0 && complaints.isEmpty, "exit \(status.map { "\($0)" } ?? "none (timed out)")\n\(output)")
    }

    /// The `Key=value` settings of a unit, continuation lines joined, comments dropped.
    static func settings(_ text: String) -> [String] {
        var result: [String] = [], pending = ""
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map({ $0.trimmingCharacters(in: .whitespaces) }) {
            if pending.isEmpty, line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") || line.hasPrefix("[") { continue }
            if line.hasSuffix("\\") { pending += line.dropLast().trimmingCharacters(in: .whitespaces) + " "; continue }
            result.append(pending + line)
            pending = ""
        }
        return result
    }

    /// ExecStart expanded as systemd would: %i, variables from EnvironmentFile, and LoadCredential
    /// copied into `credentials` ($CREDENTIALS_DIRECTORY); /etc/sightline/ becomes `etc`, the binary this build's.
    static func command(of unit: [String], instance: String, etc: String, credentials: String) throws -> [String] {
        func local(_ path: String) -> String {
            path.replacingOccurrences(of: "%i", with: instance).replacingOccurrences(of: "/etc/sightline/", with: "\(etc)/")
        }
        var variables = ["CREDENTIALS_DIRECTORY": credentials]
        try FileManager.default.createDirectory(atPath: credentials, withIntermediateDirectories: true)
        for setting in unit {
            if setting.hasPrefix("EnvironmentFile=") {
                let text = try String(contentsOfFile: local(String(setting.dropFirst("EnvironmentFile=".count))), encoding: .utf8)
                for line in text.split(separator: "\n") {
                    let pair = line.split(separator: "=", maxSplits: 1).map(String.init)
                    if pair.count == 2 { variables[pair[0]] = pair[1] }
                }
            } else if setting.hasPrefix("LoadCredential=") {
                let pair = setting.dropFirst("LoadCredential=".count).split(separator: ":", maxSplits: 1).map(String.init)
                try FileManager.default.copyItem(atPath: local(pair[1]), toPath: "\(credentials)/\(pair[0])")
            }
        }
        let start = try #require(unit.first { $0.hasPrefix("ExecStart=") }, "no ExecStart")
        var words = start.dropFirst("ExecStart=".count).split(separator: " ").map { word in
            var word = local(String(word))
            for (name, value) in variables { word = word.replacingOccurrences(of: "${\(name)}", with: value) }
            return word
        }
        try #require(!words.contains { $0.contains("${") || $0.contains("%") }, "unexpanded: \(words)")
        words[0] = LocalCluster.binary(URL(fileURLWithPath: words[0]).lastPathComponent)
        return words
    }

    /// Starts `command` with its output in `log`, without $SIGHTLINE_TOKEN (the units pass none).
    static func launch(_ command: [String], log: String) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        var environment = ProcessInfo.processInfo.environment
        environment["SIGHTLINE_TOKEN"] = nil
        process.environment = environment
        try process.run()
        return process
    }

    /// The exit status, or nil (after SIGKILL) when `process` is still running after `seconds`.
    static func wait(_ process: Process, seconds: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        guard process.isRunning else { return process.terminationStatus }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        return nil
    }

    static func stop(_ processes: [Process]) {
        for process in processes where process.isRunning { kill(process.processIdentifier, SIGTERM) }
        for process in processes { _ = wait(process, seconds: 5) }
    }

    /// Runs `command` to its end, at most `seconds`; its output (stdout and stderr) goes through `log`.
    static func run(_ command: [String], log: String, seconds: Double) -> (status: Int32?, output: String) {
        guard let process = try? launch(command, log: log) else { return (nil, "cannot start \(command[0])") }
        let status = wait(process, seconds: seconds)
        return (status, read(log))
    }

    static func read(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

    static func jsonLines(_ text: String) -> [[String: Any]] {
        text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    /// Whether `condition` held within `seconds`.
    static func poll(seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return condition()
    }

    /// Stops the process whose pid `pidFile` holds, and only if its command line mentions `mention`
    /// (a pid may be reused): SIGTERM, then SIGKILL after 10 s. It need not be a child of this process.
    static func stopForeign(pidFile: String, mention: String) {
        guard let pid = Int32(read(pidFile).trimmingCharacters(in: .whitespacesAndNewlines)), pid > 1 else { return }
        func alive() -> Bool {
            // A zombie has exited; whoever reaps it is not this process.
            let stat = read("/proc/\(pid)/stat")
            return !stat.isEmpty && !stat.contains(") Z ")
        }
        let commandLine = read("/proc/\(pid)/cmdline").replacingOccurrences(of: "\0", with: " ")
        guard alive(), commandLine.contains(mention) else { return }
        kill(pid, SIGTERM)
        if !poll(seconds: 10, { !alive() }) { kill(pid, SIGKILL); _ = poll(seconds: 5) { !alive() } }
    }

    /// Starts `command` (output to `log`) with posix_spawn, for a process that closes the descriptors it
    /// inherits, as sshd does: Foundation's Process takes that for its exit and blocks in waitpid, and then
    /// no other Process of this test run is seen to end. Stop it with `reap`.
    static func spawn(_ command: [String], log: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let arguments = command.map { strdup($0) } + [nil]
        defer { arguments.forEach { free($0) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, command[0], &actions, nil, arguments, environ)
        guard status == 0 else { throw ClusterTestError.notHealthy("cannot start \(command[0]): \(String(cString: strerror(status)))") }
        return pid
    }

    /// Ends a child from `spawn`: SIGTERM, SIGKILL after 10 s, and waits for it.
    static func reap(_ pid: pid_t) {
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid { return }
        kill(pid, SIGTERM)
        if poll(seconds: 10, { waitpid(pid, &status, WNOHANG) != 0 }) { return }
        kill(pid, SIGKILL)
        waitpid(pid, &status, 0)
    }

    static func logs(_ folder: String) -> String {
        (try? FileManager.default.contentsOfDirectory(atPath: folder))?.filter { $0.hasSuffix(".log") }.sorted().map { name in
            "== \(name)\n" + ((try? String(contentsOfFile: "\(folder)/\(name)", encoding: .utf8)) ?? "").suffix(2000)
        }.joined(separator: "\n") ?? ""
    }
}

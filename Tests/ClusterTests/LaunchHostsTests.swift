import ClusterClient
import Datasets
import Foundation
import Testing
import VectorIndex
import VectorMath
import Wire

extension LaunchTests {
    /// Two worker hosts run sshd (a key and host keys made here); from the coordinator's host
    /// scripts/launch-hosts starts a worker on each over ssh, then the cluster stores and searches.
    @Test(.enabled(if: TestHosts.available, "network namespaces cannot be created here (needs root and iproute2): launch test skipped"))
    func launchHostsOverSSH() throws {
        let sshd = "/usr/sbin/sshd", keygen = "/usr/bin/ssh-keygen"
        for tool in [sshd, keygen, "/usr/bin/ssh"] {
            try #require(FileManager.default.isExecutableFile(atPath: tool), "\(tool) is missing: run scripts/setup (openssh-server)")
        }
        let ip = TestHosts.ipCommand!
        let prefix = "sll\(getpid() % 10_000)"
        let netns = LocalCluster.root.appendingPathComponent("scripts/netns-hosts").path
        let folder = try UnitFiles.folder("ssh")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try #require(UnitFiles.run([netns, "up", "3", "--prefix", prefix], log: "\(folder)/netns.out", seconds: 30).status == 0)
        defer { _ = UnitFiles.run([netns, "down", "3", "--prefix", prefix], log: "\(folder)/netns.out", seconds: 30) }
        let inHost = { (host: Int) in [ip, "netns", "exec", "\(prefix)-h\(host)"] }

        // sshd wants its privilege separation folder, which Debian's (disabled) service would make.
        let privsep = "/run/sshd", madePrivsep = !FileManager.default.fileExists(atPath: privsep)
        if madePrivsep { try FileManager.default.createDirectory(atPath: privsep, withIntermediateDirectories: true) }
        defer { if madePrivsep { try? FileManager.default.removeItem(atPath: privsep) } }
        let ssh = "\(folder)/ssh"
        try FileManager.default.createDirectory(atPath: ssh, withIntermediateDirectories: true)
        let client = [keygen, "-q", "-t", "ed25519", "-N", "", "-C", "sightline-test", "-f", "\(ssh)/client"]
        try #require(UnitFiles.run(client, log: "\(folder)/keygen.out", seconds: 30).status == 0)
        try FileManager.default.copyItem(atPath: "\(ssh)/client.pub", toPath: "\(ssh)/authorized_keys")
        var sshds: [pid_t] = []
        defer {
            for host in 1 ... 2 { UnitFiles.stopForeign(pidFile: "\(ssh)/sshd-h\(host).pid", mention: "sshd") }
            for pid in sshds { UnitFiles.reap(pid) }
        }
        for host in 1 ... 2 {
            let hostKey = [keygen, "-q", "-t", "ed25519", "-N", "", "-f", "\(ssh)/host-h\(host)"]
            try #require(UnitFiles.run(hostKey, log: "\(folder)/keygen.out", seconds: 30).status == 0)
            let config = "\(ssh)/sshd-h\(host).config"
            try """
                ListenAddress 10.213.0.\(host + 1):22
                HostKey \(ssh)/host-h\(host)
                PidFile \(ssh)/sshd-h\(host).pid
                AuthorizedKeysFile \(ssh)/authorized_keys
                AllowUsers root
                PermitRootLogin prohibit-password
                PasswordAuthentication no
                KbdInteractiveAuthentication no
                StrictModes no
                UsePAM no
                LogLevel VERBOSE

                """.write(toFile: config, atomically: true, encoding: .utf8)
            let check = UnitFiles.run([sshd, "-t", "-f", config], log: "\(folder)/sshd-check.out", seconds: 30)
            try #require(check.status == 0, "sshd -t refused \(config):\n\(check.output)")
            sshds.append(try UnitFiles.spawn(inHost(host) + [sshd, "-D", "-e", "-f", config], log: "\(folder)/sshd-h\(host).log"))
        }
        let listening = UnitFiles.poll(seconds: 20) {
            (1 ... 2).allSatisfy { UnitFiles.read("\(folder)/sshd-h\($0).log").contains("Server listening on") }
        }
        try #require(listening, "sshd did not start:\n\(UnitFiles.logs(folder))")

        // The cluster: coordinator on h0, shard i on h(i+1) as root@10.213.0.(i+2); one filesystem, so one binary.
        let token = "launch-token-\(UInt32.random(in: 0 ... .max))"
        var config = """
            cluster = "test-launch"
            token = "\(token)"
            listen = "tcp://10.213.0.1:7700"
            data = "\(folder)/coordinator"
            deadline_ms = 2000
            [index]
            dimension = 16
            nlist = 16
            m = 4
            nprobe = 4

            """
        for shard in 0 ... 1 {
            config += "[[workers]]\nshard = \(shard)\nurl = \"tcp://10.213.0.\(shard + 2):7701\"\nhost = \"root@10.213.0.\(shard + 2)\"\n"
                + "binary = \"\(LocalCluster.binary("sightline-worker"))\"\ndata = \"\(folder)/worker-\(shard)\"\n"
        }
        try config.write(toFile: "\(folder)/cluster.toml", atomically: true, encoding: .utf8)
        try Data(SmallData.codebooks).write(to: URL(fileURLWithPath: "\(folder)/codebooks.slix"))
        let coordinator = try UnitFiles.launch(
            inHost(0) + [LocalCluster.binary("sightline-coordinator"), "--config", "\(folder)/cluster.toml", "--codebooks",
                         "\(folder)/codebooks.slix"], log: "\(folder)/coordinator.log")
        defer { UnitFiles.stop([coordinator]) }

        // Workers launch-hosts started: exactly the pids in their pid files, stopped first.
        defer {
            for shard in 0 ... 1 {
                UnitFiles.stopForeign(pidFile: "\(folder)/worker-\(shard)/worker.pid", mention: "\(folder)/worker-\(shard)")
            }
        }
        let sshCommand = "ssh -i \(ssh)/client -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
            + "-o LogLevel=ERROR -o ConnectTimeout=10 -p 22"
        let launchHosts = LocalCluster.root.appendingPathComponent("scripts/launch-hosts").path
        let launched = UnitFiles.run(inHost(0) + [launchHosts, "\(folder)/cluster.toml", "--ssh", sshCommand],
                                     log: "\(folder)/launch-hosts.log", seconds: 180)
        #expect(launched.status == 0, "launch-hosts exit \(String(describing: launched.status))")
        try #require(launched.output.contains("launch-hosts: all workers healthy"), "\(launched.output)\n\(UnitFiles.logs(folder))")
        for shard in 0 ... 1 {
            let pid = UnitFiles.read("\(folder)/worker-\(shard)/worker.pid").trimmingCharacters(in: .whitespacesAndNewlines)
            let namespace = UnitFiles.run([ip, "netns", "identify", pid], log: "\(folder)/identify.out", seconds: 10).output
            #expect(namespace.trimmingCharacters(in: .whitespacesAndNewlines) == "\(prefix)-h\(shard + 1)", "worker \(shard) (pid \(pid))")
            #expect(UnitFiles.read("\(folder)/sshd-h\(shard + 1).log").contains("Accepted publickey for root from 10.213.0.1"))
        }

        // Store and search through the coordinator (the client on its host); answers equal one index's.
        let spec = "synthetic:n=600,q=20,d=16,classes=20,seed=5"
        let cli = inHost(0) + [LocalCluster.binary("sightline")]
        let target = ["--coordinator", "tcp://10.213.0.1:7700", "--token", token]
        let ingest = UnitFiles.run(cli + ["ingest", "--dataset", spec] + target, log: "\(folder)/ingest.out", seconds: 120)
        try #require(ingest.status == 0, "ingest failed:\n\(ingest.output)\n\(UnitFiles.logs(folder))")
        let stats = UnitFiles.jsonLines(UnitFiles.run(cli + ["stats", "--json"] + target, log: "\(folder)/stats.out", seconds: 60).output)
        #expect(stats.count == 2 && stats.allSatisfy { ($0["vectors"] as? Int ?? 0) > 0 }, "\(stats)")
        #expect(stats.reduce(0) { $0 + ($1["vectors"] as? Int ?? 0) } == 600)
        let query = UnitFiles.run(cli + ["query", "--queries", spec, "--k", "10", "--nprobe", "4", "--json"] + target,
                                  log: "\(folder)/query.out", seconds: 120)
        let rows = UnitFiles.jsonLines(query.output)
        try #require(rows.count == 20, "query printed \(rows.count) rows:\n\(query.output.prefix(500))\n\(UnitFiles.logs(folder))")
        let data = try DatasetCatalog.load(spec)
        var single = try IndexFile.decode(SmallData.codebooks)
        try single.add(data.base, ids: (0 ..< UInt64(data.base.rowCount)).map { VectorID($0) })
        let expected = try single.search(data.queries, parameters: SearchParameters(k: 10, probeCount: 4))
        for (index, row) in rows.enumerated() {
            #expect(row["partial"] as? Bool == false)
            #expect((row["ids"] as? [NSNumber])?.map(\.uint64Value) == expected[index].map(\.id.rawValue), "query \(index)")
        }
    }
}

import ArgumentParser
import ClusterClient
import Foundation
import ProcessRuntime
import Wire

/// `sightline cluster …`: the shard map and the moves that change it.
struct ClusterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "Show the shard map, add or remove shards and copies, and move vectors between them.",
        discussion: """
            The coordinator's catalog holds the shard map (which worker holds which shard); ids are placed over its shards \
            by rendezvous hashing. add-worker, add-shard (a new shard with several copies) and remove-worker start a move \
            that copies the vectors that change owner to every copy of their new shard, verifies every copy, switches the \
            map and then deletes at the old owners, while searches and writes go on. set-replication, drain-host and \
            remove-replica change the copies of shards (a copy leaves only while its shard can still acknowledge writes). \
            backup copies the catalog and every shard as of one moment; restore puts such a copy back. \
            These commands need the cluster token.
            """,
        subcommands: [ClusterStatusCommand.self, AddWorkerCommand.self, AddShardCommand.self, RemoveWorkerCommand.self,
                      RemoveReplicaCommand.self, SetReplicationCommand.self, DrainHostCommand.self, RebalanceCommand.self,
                      BackupCommand.self, RestoreCommand.self])
}

/// Options every `cluster` command shares.
struct ClusterChangeOptions: ParsableArguments {
    @OptionGroup var target: CoordinatorOptions

    @Flag(help: "Print the final status as JSON.")
    var json = false

    @Flag(help: "Return once the move has started instead of following it to the end.")
    var noWait = false

    @Option(help: "Move (or, for copies that join, copy) at most this many vectors per second (0 = as fast as the workers take them).")
    var rate: UInt32 = 0

    /// Sends the change, follows the move with a progress bar and prints the outcome.
    func run(_ change: ClusterChange, dryRun: Bool = false) throws {
        let client = try target.client()
        var status = try client.changeCluster(ClusterChangeRequest(change: change, dryRun: dryRun, rate: rate))
        var followsMove = false
        switch change {
        case .addReplica(let url, _, let shard, _):
            if !dryRun, !noWait { status = try followReplica(client, url: url, shard: shard) }
        case .setReplication, .removeReplica:
            if !dryRun, !noWait { status = try followCopies(client, status) { _ in true } }
        case .drainHost(let host, _, _):
            if !dryRun, !noWait { status = try followCopies(client, status) { !$0.shards.contains { $0.host == host } } }
        default:
            followsMove = true
            if !dryRun, !noWait { status = try follow(client, status) }
        }
        if json {
            try printJSON(status)
        } else {
            printStatus(status)
        }
        if followsMove, let move = status.move, !dryRun, !noWait, move.step != "done" {
            throw ValidationError("the move stopped at step \(move.step): \(move.error)")
        }
    }

    /// Polls the status until the new replica is in sync, drawing its copy against its peers'.
    func followReplica(_ client: ServiceClient, url: String, shard: UInt32) throws -> ClusterStatusReply {
        let progress = ProgressReporter(enabled: !json)
        while true {
            let status = try client.clusterStatus()
            let copies = status.shards.filter { $0.shard == shard }
            guard let mine = copies.first(where: { $0.url == url }) else { return status }
            let target = copies.filter { $0.replicaState == "in-sync" && $0.url != url }.map(\.vectorCount).max() ?? mine.vectorCount
            progress.report("replica of shard \(shard): \(mine.replicaState)", Int(clamping: mine.vectorCount),
                            Int(clamping: max(target, 1)))
            if mine.replicaState == "in-sync" { return status }
            Thread.sleep(forTimeInterval: 0.2)
        }
    }

    /// Polls the status until every copy is in sync and `done` holds, drawing the copies in sync
    /// against all of them (and the entries they hold against their shards').
    func followCopies(_ client: ServiceClient, _ first: ClusterStatusReply,
                      done: (ClusterStatusReply) -> Bool) throws -> ClusterStatusReply {
        let progress = ProgressReporter(enabled: !json)
        var status = first
        while true {
            let copies = status.shards.filter { !$0.replicaState.isEmpty }
            let inSync = copies.filter { $0.replicaState == "in-sync" }
            let largest = Dictionary(grouping: inSync, by: \.shard).mapValues { $0.map(\.vectorCount).max() ?? 0 }
            let held = copies.reduce(UInt64(0)) { $0 + min($1.vectorCount, largest[$1.shard] ?? $1.vectorCount) }
            let wanted = copies.reduce(UInt64(0)) { $0 + (largest[$1.shard] ?? $1.vectorCount) }
            progress.report("copies in sync: \(inSync.count) of \(copies.count)", Int(clamping: held), Int(clamping: max(wanted, 1)))
            if inSync.count == copies.count, done(status) { return status }
            Thread.sleep(forTimeInterval: 0.2)
            status = try client.clusterStatus()
        }
    }

    /// Polls the status until the move is done, drawing its copy progress.
    func follow(_ client: ServiceClient, _ first: ClusterStatusReply) throws -> ClusterStatusReply {
        let progress = ProgressReporter(enabled: !json)
        var status = first
        var lastError = ""
        while let move = status.move, move.step != "done" {
            progress.report("move to map \(move.toVersion): \(move.step)", Int(clamping: move.copied), Int(clamping: max(move.total, 1)))
            if !move.error.isEmpty, move.error != lastError {
                progress.note("retrying after: \(move.error)")
                lastError = move.error
            }
            Thread.sleep(forTimeInterval: 0.1)
            status = try client.clusterStatus()
        }
        if let move = status.move {
            progress.report("move to map \(move.toVersion): done", Int(clamping: move.total), Int(clamping: max(move.total, 1)))
        }
        return status
    }
}

/// The human-readable status: map, shards, move and plan.
func printStatus(_ status: ClusterStatusReply) {
    if !status.warning.isEmpty { printLine("warning: \(status.warning)") }
    printLine("shard map version \(status.mapVersion)")
    let replicated = status.shards.contains { !$0.replicaState.isEmpty }
    printLine("shard  state      vectors  reachable  " + (replicated ? "replica      " : "") + "host  url")
    for shard in status.shards {
        printLine(String(format: "%5d  %-9@  %8d  %-9@  ", shard.shard, shard.state as NSString, shard.vectorCount,
                         (shard.reachable ? "yes" : "NO") as NSString)
                  + (replicated ? String(format: "%-11@  ", (shard.replicaState.isEmpty ? "-" : shard.replicaState) as NSString) : "")
                  + "\(shard.host.isEmpty ? "-" : shard.host)  \(shard.url)")
    }
    if let move = status.move {
        let percent = move.total == 0 ? 100 : Int(100 * Double(move.copied) / Double(move.total))
        printLine("move: \(move.kind) of shard \(move.shard), map \(move.fromVersion) → \(move.toVersion), step \(move.step), "
                  + "copied \(move.copied) of \(move.total) (\(percent) %)" + (move.error.isEmpty ? "" : "; last error: \(move.error)"))
    }
    if !status.plan.isEmpty {
        printLine("plan:")
        for flow in status.plan { printLine("  shard \(flow.from) → shard \(flow.to): \(flow.count) vectors") }
    }
}

struct ClusterStatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "The shard map: version, shards, workers, vectors per shard, and any move with its progress.",
        discussion: "Example: sightline cluster status --token-file runs/local/token")

    @OptionGroup var target: CoordinatorOptions

    @Flag(help: "Print the status as JSON.")
    var json = false

    func run() throws {
        try reportingErrors {
            let status = try target.client().clusterStatus()
            if json { try printJSON(status) } else { printStatus(status) }
        }
    }
}

struct AddWorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add-worker",
        abstract: "Register a new, empty worker as a new shard (moving its share of the vectors to it), or as a replica.",
        discussion: """
            Start the worker first (sightline-worker --shard N with an unused N and an empty --data directory). About \
            1/(S+1) of the vectors move to it; searches stay exact and complete during the move. \
            Example: sightline cluster add-worker --url tcp://10.0.0.4:7704 --host host4 --token-file runs/local/token

            With --shard N the worker (started with --shard N) becomes a replica of shard N instead: it copies the shard \
            from an in-sync replica and serves once its digests match; --replace URL takes another replica out of the shard \
            (one that stays down, say): at once when it is not in sync, else once the new replica is. In a cluster whose \
            shards have several copies, add a shard with add-shard; --rate paces a replica's copy. \
            Example: sightline cluster add-worker --url tcp://10.0.0.5:7701 --shard 0 --replace tcp://10.0.0.2:7701
            """)

    @Option(help: "The new worker's address.")
    var url: String

    @Option(help: "The host it runs on (HOST, or ZONE/HOST; recorded in the shard map).")
    var host: String = ""

    @Option(help: "Add the worker as a replica of this shard (it must run with --shard N).")
    var shard: UInt32?

    @Option(help: "With --shard: the replica (its URL) that leaves the shard, e.g. one that stays down.")
    var replace: String = ""

    @Flag(help: "Check the worker and show the status without changing anything.")
    var dryRun = false

    @OptionGroup var options: ClusterChangeOptions

    func validate() throws {
        if !replace.isEmpty, shard == nil { throw ValidationError("--replace needs --shard (the shard whose replica it replaces)") }
    }

    func run() throws {
        try reportingErrors {
            if let shard {
                try options.run(.addReplica(url: url, host: host, shard: shard, replacing: replace), dryRun: dryRun)
            } else {
                try options.run(.addWorker(url: url, host: host), dryRun: dryRun)
            }
        }
    }
}

struct RemoveWorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove-worker",
        abstract: "Drain a shard (its vectors move to where rendezvous now places them), then retire it.",
        discussion: "Example: sightline cluster remove-worker --shard 3 --token-file runs/local/token")

    @Option(help: "The shard to drain.")
    var shard: UInt32

    @Flag(help: "Check the request and show the status without changing anything.")
    var dryRun = false

    @OptionGroup var options: ClusterChangeOptions

    func run() throws {
        try reportingErrors { try options.run(.removeWorker(shard: shard), dryRun: dryRun) }
    }
}

struct RebalanceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rebalance",
        abstract: "Print the plan of the move in progress (how many vectors go from which shard to which), then finish it.",
        discussion: """
            A move interrupted by a crash resumes by itself when the coordinator restarts; rebalance shows its plan and \
            follows it to the end. With no move in progress the map is balanced and nothing moves. With --abort, a \
            move that has not flipped yet is cancelled instead: every worker serves by the map in force again and a \
            new shard drops what it received (after the flip a move can only finish). \
            Example: sightline cluster rebalance --dry-run --token-file runs/local/token
            """)

    @Flag(help: "Print the plan only.")
    var dryRun = false

    @Flag(help: "Cancel the move in progress if it has not flipped yet.")
    var abort = false

    @OptionGroup var options: ClusterChangeOptions

    func run() throws {
        try reportingErrors {
            if abort {
                try options.run(.abortMove, dryRun: dryRun)
                return
            }
            if !options.json {
                let status = try options.target.client().changeCluster(ClusterChangeRequest(change: .rebalance, dryRun: true))
                if status.move == nil || status.move?.step == "done" {
                    printLine("the shard map (version \(status.mapVersion)) is balanced: nothing to move")
                    return
                }
                printLine("plan:")
                for flow in status.plan { printLine("  shard \(flow.from) → shard \(flow.to): \(flow.count) vectors") }
                if dryRun { return }
            }
            try options.run(.rebalance, dryRun: dryRun)
        }
    }
}

struct AddShardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add-shard",
        abstract: "Add a new shard whose copies are new, empty workers, then move its share of the vectors to it.",
        discussion: """
            Start one worker per copy first, each with the same unused --shard N and an empty --data directory, one per \
            host. Name as many workers as the other shards have copies (see cluster status). Every copy of the new shard \
            takes the move's pages as numbered writes, so the copies stay equal; searches stay exact and complete \
            during the move. \
            Example: sightline cluster add-shard --url tcp://10.0.0.4:7701 --host host4 --url tcp://10.0.0.5:7701 --host host5
            """)

    @Option(name: .customLong("url"), help: "A copy's worker address (repeat once per copy).")
    var urls: [String] = []

    @OptionGroup var hosts: CopyHosts

    @Flag(help: "Check the request and show the status without changing anything.")
    var dryRun = false

    @OptionGroup var options: ClusterChangeOptions

    func validate() throws {
        guard !urls.isEmpty else { throw ValidationError("name the new shard's workers with --url (one per copy)") }
        try hosts.check(urls: urls)
    }

    func run() throws {
        try reportingErrors { try options.run(.addShard(urls: urls, hosts: hosts.hosts), dryRun: dryRun) }
    }
}

struct RemoveReplicaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove-replica",
        abstract: "Take one copy out of a shard, while the copies that stay can acknowledge writes.",
        discussion: """
            Refused when fewer copies would stay in sync and answering than write_quorum needs. The worker keeps its data; \
            stop it afterwards. \
            Example: sightline cluster remove-replica --shard 0 --url tcp://10.0.0.2:7701
            """)

    @Option(help: "The shard.")
    var shard: UInt32

    @Option(help: "The copy's worker address.")
    var url: String

    @Flag(help: "Check the request and show the status without changing anything.")
    var dryRun = false

    @OptionGroup var options: ClusterChangeOptions

    func run() throws {
        try reportingErrors { try options.run(.removeReplica(shard: shard, url: url), dryRun: dryRun) }
    }
}

struct SetReplicationCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set-replication",
        abstract: "Give every shard R copies, online: new copies join and catch up, or surplus copies leave.",
        discussion: """
            Raising R: start one empty worker per missing copy, each with the --shard it joins, and name them with --url \
            (and --host). They copy their shard from an in-sync peer while writes go on, then serve. Lowering R: the copies \
            named with --url leave, or else those not in sync first, then those sharing a host, then the last added; a \
            copy leaves only while the copies that stay can acknowledge writes (write_quorum). \
            Example: sightline cluster set-replication 2 --url tcp://10.0.0.6:7701 --url tcp://10.0.0.7:7701
            """)

    @Argument(help: "Copies per shard (1 to 3).")
    var replication: UInt32

    @Option(name: .customLong("url"), help: "A joining worker (raising) or a leaving copy (lowering); repeat.")
    var urls: [String] = []

    @OptionGroup var hosts: CopyHosts

    @Flag(help: "Check the request and show the status without changing anything.")
    var dryRun = false

    @OptionGroup var options: ClusterChangeOptions

    func validate() throws {
        guard (1 ... 3).contains(replication) else { throw ValidationError("replication is 1, 2 or 3") }
        try hosts.check(urls: urls)
    }

    func run() throws {
        try reportingErrors { try options.run(.setReplication(replication: replication, urls: urls, hosts: hosts.hosts), dryRun: dryRun) }
    }
}

struct DrainHostCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drain-host",
        abstract: "Move every copy off one host (maintenance, decommissioning) without a shard dropping below its write quorum.",
        discussion: """
            For each copy on the host, start an empty worker on another host with that copy's --shard and name it with \
            --url (and --host): it joins, catches up, and only then does the copy on the host leave. A copy without a \
            replacement leaves at once if its shard can spare it (the copies that stay can acknowledge writes), else the \
            request is refused before anything changes. The command returns once no copy is on the host. \
            Example: sightline cluster drain-host host2 --url tcp://10.0.0.8:7701 --host host8
            """)

    @Argument(help: "The host to drain (as recorded with --host).")
    var host: String

    @Option(name: .customLong("url"), help: "A replacement worker (started with the --shard it replaces); repeat.")
    var urls: [String] = []

    @OptionGroup var hosts: CopyHosts

    @Flag(help: "Check the request and show the status without changing anything.")
    var dryRun = false

    @OptionGroup var options: ClusterChangeOptions

    func validate() throws {
        try hosts.check(urls: urls)
    }

    func run() throws {
        try reportingErrors { try options.run(.drainHost(host: host, urls: urls, hosts: hosts.hosts), dryRun: dryRun) }
    }
}

/// The `--host` list of the commands that name several workers: one host per `--url`, or none.
struct CopyHosts: ParsableArguments {
    @Option(name: .customLong("host"), help: "The host of each --url (HOST, or ZONE/HOST), in order (none, or one per --url).")
    var hosts: [String] = []

    func check(urls: [String]) throws {
        guard hosts.isEmpty || hosts.count == urls.count else { throw ValidationError("give one --host per --url, or none") }
    }
}

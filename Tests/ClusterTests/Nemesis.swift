import ClusterClient
import Datasets
import Foundation
import ShardStore
import Synchronization
import Testing
import VectorIndex
import VectorMath
import Wire

/// A seeded fault schedule against a real cluster, in the spirit of Jepsen: a client adds (with
/// labels), deletes and searches while a nemesis kills (-9), pauses (SIGSTOP … SIGCONT), cuts off
/// (a namespace host's link down), wipes or restarts workers and the coordinator, takes backups
/// and (in a cluster of single copies) moves shards. A model records every acknowledged
/// operation; every complete answer must equal a single index over the acknowledged vectors,
/// and at the end every acknowledged add must be stored exactly once on each copy with its
/// label, and every acknowledged delete gone. The same seed gives the same schedule.
final class Nemesis: @unchecked Sendable {
    enum Topology: String {
        /// r = 2, two shards (four workers) on loopback.
        case replicated
        /// r = 2, two shards, each worker on its own network-namespace host (partitions possible).
        case replicatedHosts = "replicated-hosts"
        /// r = 1, three shards plus a spare on loopback: moves (add-worker, remove-worker) join the faults.
        case moving
        /// r = 2, two shards (four workers) and six spares on loopback, each worker on its own host
        /// label (workers 0 and 2 share one): add-shard, remove-worker, set-replication and
        /// drain-host join the faults, with copies and the coordinator killed mid-move.
        case growing = "replicated-growing"
        /// The growing topology with each worker on its own network-namespace host (11 hosts):
        /// partitions join the faults.
        case growingHosts = "replicated-growing-hosts"
    }

    struct Settings {
        var seed: UInt64
        var seconds: Double
        var topology: Topology
        /// `write_quorum` of the replicated topologies.
        var writeQuorum = "majority"
        /// A fixed schedule instead of the seed's (the growing scenarios of GrowReplicatedTests).
        var script: [Step]?
        /// Where a JSON summary goes (scripts/dev/nemesis), if anywhere.
        var reportPath: String?
    }

    enum Fault: CustomStringConvertible {
        case kill(worker: Int)
        case pause(worker: Int)
        case partition(worker: Int)
        case wipe(worker: Int)
        case killCoordinator
        case backup
        case move
        /// A spare worker joins as a copy of a shard in place of `worker` (add-worker --shard --replace).
        case replace(worker: Int)
        /// Growing topology: a new shard of two spares (add-shard), with kills mid-move.
        case addShard
        /// Growing topology: a shard is drained (remove-worker --shard), with kills mid-move.
        case removeShard
        /// Growing topology: every shard gets this many copies (set-replication).
        case setReplication(Int)
        /// Growing topology: every copy leaves the host that holds the most (drain-host).
        case drainHost

        var description: String {
            switch self {
            case .kill(let w): return "kill -9 worker \(w)"
            case .pause(let w): return "SIGSTOP worker \(w)"
            case .partition(let w): return "cut off worker \(w)'s host"
            case .wipe(let w): return "kill -9 worker \(w) and wipe its data directory"
            case .killCoordinator: return "kill -9 the coordinator"
            case .backup: return "cluster backup"
            case .move: return "a move (add-worker / remove-worker)"
            case .replace(let w): return "a spare replaces worker \(w) as a copy (add-worker --shard --replace)"
            case .addShard: return "a new shard of two copies (add-shard), with kills mid-move"
            case .removeShard: return "a shard drained (remove-worker), with kills mid-move"
            case .setReplication(let r): return "set-replication \(r)"
            case .drainHost: return "drain-host of the host with the most copies"
            }
        }

        var kind: String {
            switch self {
            case .kill: return "kill"
            case .pause: return "pause"
            case .partition: return "partition"
            case .wipe: return "wipe"
            case .killCoordinator: return "kill-coordinator"
            case .backup: return "backup"
            case .move: return "move"
            case .replace: return "replace"
            case .addShard: return "add-shard"
            case .removeShard: return "remove-shard"
            case .setReplication: return "set-replication"
            case .drainHost: return "drain-host"
            }
        }
    }

    struct Step: CustomStringConvertible {
        var at: Double
        var fault: Fault
        var lasts: Double
        var description: String { String(format: "t=%6.1f s  %@ for %.1f s", at, fault.description, lasts) }
    }

    /// What the client saw, and what went wrong.
    struct Tally {
        var adds = 0, deletes = 0, searches = 0, checkedSearches = 0, partialSearches = 0
        var failedAttempts = 0
        var faults: [String: Int] = [:]
        var violations: [String] = []
    }

    let settings: Settings
    let cluster: LocalCluster
    let tally = Mutex(Tally())
    let stopClient = Atomic<Bool>(false)
    /// Namespace hosts' prefix (replicated-hosts only).
    let hostPrefix: String?
    /// The workers that hold the shards of the map now (moves change it).
    let live = Mutex<[Int]>([])

    // The model: acknowledged vectors and labels, touched only by the client thread and, once
    // the client has stopped, by the final checks.
    var single: IVFPQIndex
    var labels: [UInt64: Int32] = [:]
    var deleted: Set<UInt64> = []
    private var rows = RowSource()

    static let dimension = 16

    init(_ settings: Settings) throws {
        self.settings = settings
        single = try IndexFile.decode(SmallData.codebooks)
        let name = "nemesis-\(settings.topology.rawValue)-\(settings.seed)"
        switch settings.topology {
        case .replicated:
            cluster = try LocalCluster(name: name, workerCount: 5, index: (16, 16, 4), codebooks: SmallData.codebooks,
                                       configuredWorkers: 4, replication: 2,
                                       topLevel: "write_quorum = \(Self.quorumValue(settings.writeQuorum))")
            hostPrefix = nil
        case .replicatedHosts:
            let prefix = "nm\(getpid() % 10_000)"
            let workerURLs = (1 ... 5).map { "tcp://10.213.0.\($0 + 1):7701" }
            cluster = try LocalCluster(name: name, workerCount: 5, index: (16, 16, 4), codebooks: SmallData.codebooks,
                                       urls: ("tcp://10.213.0.1:7700", workerURLs), configuredWorkers: 4, replication: 2,
                                       topLevel: "write_quorum = \(Self.quorumValue(settings.writeQuorum))")
            cluster.launchPrefix = TestHosts.placing(prefix: prefix)
            hostPrefix = prefix
        case .moving:
            cluster = try LocalCluster(name: name, workerCount: 4, index: (16, 16, 4), codebooks: SmallData.codebooks,
                                       configuredWorkers: 3)
            hostPrefix = nil
        case .growing, .growingHosts:
            let hosts = (0 ..< 10).map { $0 == 2 ? "h0" : "h\($0)" }
            let onHosts = settings.topology == .growingHosts
            let urls = onHosts ? ("tcp://10.213.0.1:7700", (0 ..< 10).map { "tcp://10.213.0.\($0 + 2):7701" }) : nil
            cluster = try LocalCluster(name: name, workerCount: 10, index: (16, 16, 4), codebooks: SmallData.codebooks, urls: urls,
                                       configuredWorkers: 4, replication: 2,
                                       topLevel: "write_quorum = \(Self.quorumValue(settings.writeQuorum))", hosts: hosts)
            cluster.moveStepPauseMilliseconds = 600
            hostPrefix = onHosts ? "ng\(getpid() % 10_000)" : nil
            if let hostPrefix { cluster.launchPrefix = TestHosts.placing(prefix: hostPrefix) }
            hostOf = Dictionary(uniqueKeysWithValues: hosts.enumerated().map { ($0.offset, $0.element) })
        }
        live.withLock { $0 = settings.topology == .moving ? [0, 1, 2] : [0, 1, 2, 3] }
        shardOf = settings.topology == .moving ? [0: 0, 1: 1, 2: 2, 3: 3] : [0: 0, 1: 0, 2: 1, 3: 1]
    }

    /// The shard each worker holds (in the replicated topologies a spare takes the shard of the
    /// copy it replaces; the replaced worker becomes the spare). Touched by the nemesis thread only.
    var shardOf: [Int: UInt32]
    /// Growing topology: each worker's host label (a drained host's workers get new labels).
    var hostOf: [Int: String] = [:]
    /// Growing topology: the next shard id add-shard uses.
    var nextShard: UInt32 = 2
    /// Growing topology: moves followed so far (the coordinator's kill rotates over the steps).
    var movesFollowed = 0

    /// Starts worker `worker` as a copy of its shard now.
    func startWorker(_ worker: Int) throws {
        guard settings.topology != .moving else { return try cluster.startWorker(worker) }
        cluster.kill(shard: worker)
        cluster.workers[worker] = try cluster.launch(
            [LocalCluster.binary("sightline-worker"), "--listen", cluster.workerURLs[worker],
             "--data", "\(cluster.folder)/worker-\(worker)",
             "--cluster", cluster.clusterName, "--shard", "\(shardOf[worker]!)"], role: "worker-\(worker)",
            log: "\(cluster.folder)/worker-\(worker).log")
    }

    /// The other live copies of `worker`'s shard.
    func peers(of worker: Int) -> [Int] {
        live.withLock { $0 }.filter { $0 != worker && shardOf[$0] == shardOf[worker] }
    }

    /// True when every other copy of `worker`'s shard is in sync and answering.
    func peersHoldTheShard(_ worker: Int) -> Bool {
        guard let status = try? cluster.client().clusterStatus(deadlineMilliseconds: 2000) else { return false }
        let urls = peers(of: worker).map { cluster.workerURLs[$0] }
        return !urls.isEmpty && urls.allSatisfy { url in
            status.shards.contains { $0.url == url && $0.replicaState == "in-sync" && $0.reachable }
        }
    }

    static func quorumValue(_ text: String) -> String { Int(text) != nil ? text : "\"\(text)\"" }

    // MARK: - The schedule

    /// The faults, drawn from the seed alone: a fault every 2–5 s lasting 1–4 s, one at a time.
    /// Kill 28 %, pause 20 %, coordinator kill 14 %, backup 8 %, then moves (single copies) or
    /// partitions 15 % (namespace hosts) and wipes.
    static func schedule(seed: UInt64, seconds: Double, topology: Topology) -> [Step] {
        var random = SeededGenerator(seed: seed)
        var steps: [Step] = []
        var at = 2.0
        while true {
            let lasts = Double.random(in: 1 ... 4, using: &random)
            guard at + lasts < seconds else { break }
            var fault: Fault
            let worker = Int.random(in: 0 ..< (topology == .moving ? 3 : 4), using: &random)
            switch (topology, Int.random(in: 0 ..< 100, using: &random)) {
            case (_, 0 ..< 28): fault = .kill(worker: worker)
            case (_, 28 ..< 48): fault = .pause(worker: worker)
            case (_, 48 ..< 62): fault = .killCoordinator
            case (_, 62 ..< 70): fault = .backup
            case (.moving, _): fault = .move
            case (.growing, _), (.growingHosts, _):
                // Growth in a fixed cycle (each step checks what the cluster allows when it runs).
                let cycle: [Fault] = [.addShard, .drainHost, .setReplication(3), .setReplication(2), .addShard, .removeShard,
                                      .removeShard]
                let growthKinds: Set = ["add-shard", "remove-shard", "set-replication", "drain-host"]
                fault = cycle[steps.filter { growthKinds.contains($0.fault.kind) }.count % cycle.count]
            case (.replicatedHosts, 70 ..< 85): fault = .partition(worker: worker)
            case (.replicated, 70 ..< 85), (.replicatedHosts, 85 ..< 92): fault = .replace(worker: worker)
            default: fault = .wipe(worker: worker)
            }
            // On namespace hosts every third fault is a partition, whatever the draw: a short run
            // must cut a host off at least once.
            if topology == .replicatedHosts || topology == .growingHosts, steps.count % 3 == 1 { fault = .partition(worker: worker) }
            steps.append(Step(at: at, fault: fault, lasts: lasts))
            at += lasts + Double.random(in: 1 ... 3, using: &random)
        }
        return steps
    }

    // MARK: - Running

    /// Starts the cluster, runs the client against the schedule, heals everything and checks.
    func run() throws -> Tally {
        let schedule = settings.script ?? Self.schedule(seed: settings.seed, seconds: settings.seconds, topology: settings.topology)
        print("nemesis: seed \(settings.seed), \(settings.topology.rawValue), write_quorum \(settings.writeQuorum), "
              + "\(Int(settings.seconds)) s, \(schedule.count) faults")
        var script: String?
        // One namespace host for the coordinator and one per worker.
        let hostCount = cluster.workerURLs.count + 1
        if let prefix = hostPrefix {
            script = LocalCluster.root.appendingPathComponent("scripts/netns-hosts").path
            guard TestHosts.run([script!, "up", "\(hostCount)", "--prefix", prefix, "--gateway"]) == 0 else {
                throw ClusterTestError.notHealthy("scripts/netns-hosts up failed")
            }
        }
        defer {
            for worker in 0 ..< cluster.workerURLs.count { cluster.signal(shard: worker, SIGCONT) }
            if let prefix = hostPrefix, let ip = TestHosts.ipCommand {
                for host in 0 ..< hostCount { TestHosts.run([ip, "-n", "\(prefix)-h\(host)", "link", "set", "eth0", "up"]) }
            }
            cluster.stop()
            if let script, let prefix = hostPrefix { TestHosts.run([script, "down", "\(hostCount)", "--prefix", prefix, "--gateway"]) }
        }
        if settings.topology == .moving {
            try cluster.start()
        } else {
            // Workers 0 … 3 hold the shards; worker 4 is the spare a replacement starts.
            for worker in 0 ..< 4 { try startWorker(worker) }
            try cluster.startCoordinator()
            try cluster.waitUntilHealthy()
        }
        let client = Thread { [self] in clientLoop() }
        client.start()
        let started = Date()
        for step in schedule {
            let wait = step.at - Date().timeIntervalSince(started)
            if wait > 0 { Thread.sleep(forTimeInterval: wait) }
            print("nemesis: \(step)")
            tally.withLock { $0.faults[step.fault.kind, default: 0] += 1 }
            do { try apply(step) } catch { violation("the nemesis could not apply \(step.fault): \(error)") }
        }
        let rest = settings.seconds - Date().timeIntervalSince(started)
        if rest > 0 { Thread.sleep(forTimeInterval: rest) }
        stopClient.store(true, ordering: .relaxed)
        while !client.isFinished { Thread.sleep(forTimeInterval: 0.05) }
        try finalChecks()
        let result = tally.withLock { $0 }
        report(result)
        return result
    }

    func violation(_ text: String) {
        print("nemesis: VIOLATION (seed \(settings.seed)): \(text)")
        tally.withLock { $0.violations.append(text) }
    }

    /// Applies one fault and heals it after its time.
    func apply(_ step: Step) throws {
        switch step.fault {
        case .kill(let worker):
            let target = liveWorker(worker)
            cluster.kill(shard: target)
            Thread.sleep(forTimeInterval: step.lasts)
            try startWorker(target)
        case .pause(let worker):
            let target = liveWorker(worker)
            cluster.signal(shard: target, SIGSTOP)
            Thread.sleep(forTimeInterval: step.lasts)
            cluster.signal(shard: target, SIGCONT)
        case .partition(let worker):
            guard let prefix = hostPrefix, let ip = TestHosts.ipCommand else { return }
            let host = liveWorker(worker) + 1
            TestHosts.run([ip, "-n", "\(prefix)-h\(host)", "link", "set", "eth0", "down"])
            Thread.sleep(forTimeInterval: step.lasts)
            TestHosts.run([ip, "-n", "\(prefix)-h\(host)", "link", "set", "eth0", "up"])
        case .wipe(let index):
            // A copy is wiped only while its peers hold the shard (in sync and answering):
            // wiping every copy of a shard would lose data by definition.
            let worker = liveWorker(index)
            guard peersHoldTheShard(worker) else {
                print("nemesis:   (worker \(worker)'s peers are not in sync: it is killed instead of wiped)")
                cluster.kill(shard: worker)
                Thread.sleep(forTimeInterval: step.lasts)
                try startWorker(worker)
                return
            }
            cluster.kill(shard: worker)
            try? FileManager.default.removeItem(atPath: "\(cluster.folder)/worker-\(worker)")
            Thread.sleep(forTimeInterval: step.lasts)
            try startWorker(worker)
        case .replace(let index):
            try replace(liveWorker(index))
        case .killCoordinator:
            cluster.killCoordinator()
            Thread.sleep(forTimeInterval: step.lasts)
            try cluster.startCoordinator()
        case .backup:
            let out = "\(cluster.folder)/backup-\(UInt32.random(in: 0 ... .max))"
            let made = try cluster.sightline(["cluster", "backup", "--out", out])
            print("nemesis:   backup " + (made.status == 0 ? "made" : "refused: \(made.output.suffix(200))"))
            try? FileManager.default.removeItem(atPath: out)
        case .move:
            try move()
        case .addShard:
            try addShard()
        case .removeShard:
            try removeShard()
        case .setReplication(let replication):
            try setReplication(replication)
        case .drainHost:
            try drainHost()
        }
    }

    /// A spare joins as a copy of `worker`'s shard in its place; `worker` then becomes the spare
    /// (stopped, its data directory wiped). Only while the shard's other copies are in sync.
    func replace(_ worker: Int) throws {
        guard let spare = spares().first, peersHoldTheShard(worker) else {
            print("nemesis:   (no replacement now: the shard's other copies are not in sync)")
            return
        }
        shardOf[spare] = shardOf[worker]
        try? FileManager.default.removeItem(atPath: "\(cluster.folder)/worker-\(spare)")
        try startWorker(spare)
        Thread.sleep(forTimeInterval: 0.3)
        let run = try cluster.sightline(["cluster", "add-worker", "--url", cluster.workerURLs[spare], "--shard", "\(shardOf[worker]!)",
                                         "--replace", cluster.workerURLs[worker], "--no-wait"])
        var inSync = false
        let deadline = Date().addingTimeInterval(60)
        while run.status == 0, !inSync, Date() < deadline {
            let status = try? cluster.client().clusterStatus(deadlineMilliseconds: 2000)
            inSync = status?.shards.contains { $0.url == cluster.workerURLs[spare] && $0.replicaState == "in-sync" } ?? false
            if !inSync { Thread.sleep(forTimeInterval: 0.2) }
        }
        if run.status == 0, !inSync { violation("worker \(spare), a copy replacing worker \(worker), never caught up") }
        print("nemesis:   worker \(spare) replaces worker \(worker): "
              + (run.status != 0 ? run.output.suffix(300).description : inSync ? "in sync" : "not in sync after 60 s"))
        if run.status == 0 {
            live.withLock { $0 = ($0.filter { $0 != worker } + [spare]).sorted() }
            cluster.kill(shard: worker)
            try? FileManager.default.removeItem(atPath: "\(cluster.folder)/worker-\(worker)")
        } else {
            cluster.kill(shard: spare)
        }
    }

    /// The worker that stands for slot `index` now (moves and replacements swap the spare in and out).
    func liveWorker(_ index: Int) -> Int { live.withLock { $0[index % $0.count] } }

    /// Moving topology: the spare joins, or a live shard leaves (keeping three).
    func move() throws {
        let (current, spare) = live.withLock { map in (map, Set(0 ..< 4).subtracting(map).min()) }
        if let spare {
            let run = try cluster.sightline(["cluster", "add-worker", "--url", cluster.workerURLs[spare]])
            print("nemesis:   add-worker \(spare): " + (run.status == 0 ? "done" : run.output.suffix(200).description))
            if run.status == 0 { live.withLock { $0 = (current + [spare]).sorted() } }
        } else {
            let leaving = current[Int.random(in: 0 ..< current.count)]
            let run = try cluster.sightline(["cluster", "remove-worker", "--shard", "\(leaving)"])
            print("nemesis:   remove-worker \(leaving): " + (run.status == 0 ? "done" : run.output.suffix(200).description))
            if run.status == 0 {
                live.withLock { $0 = current.filter { $0 != leaving } }
                // Its data directory is emptied by the move; a later add-worker takes it back empty.
                cluster.kill(shard: leaving)
                try? FileManager.default.removeItem(atPath: "\(cluster.folder)/worker-\(leaving)")
                try cluster.startWorker(leaving)
            }
        }
    }

    // MARK: - The client

    /// Adds (5 new ids with labels), deletes (2 acknowledged ids) and searches (3 queries) in a
    /// seeded mix. An operation that fails is retried until it is acknowledged (adds and deletes
    /// are idempotent), so the model is exact whenever a search is checked.
    func clientLoop() {
        var random = SeededGenerator(seed: settings.seed ^ 0xC11E47)
        var nextID: UInt64 = 0
        let queries = SmallData.queries.slice(0 ..< 3)
        while !stopClient.load(ordering: .relaxed) {
            guard let client = try? cluster.client() else { Thread.sleep(forTimeInterval: 0.2); continue }
            let roll = Int.random(in: 0 ..< 100, using: &random)
            if roll < 45 {
                let ids = (nextID ..< nextID + 5).map { $0 }
                nextID += 5
                let vectors = rows.rows(ids)
                let labelled = ids.map { Int32(truncatingIfNeeded: $0 % 997) }
                let batch = AddBatch(ids: ids, vectors: VectorBatch(dimension: Self.dimension, values: vectors.values), labels: labelled)
                guard retry({ _ = try client.add(batch, deadlineMilliseconds: 5000) }) else { return }
                do { try single.add(vectors, ids: ids.map { VectorID($0) }) } catch { violation("model: \(error)") }
                for (id, label) in zip(ids, labelled) { labels[id] = label }
                tally.withLock { $0.adds += 1 }
            } else if roll < 60 {
                let present = labels.keys.filter { !deleted.contains($0) }
                guard present.count > 20 else { continue }
                let ids = (0 ..< 2).map { _ in present[Int.random(in: 0 ..< present.count, using: &random)] }
                guard retry({ _ = try client.call(.delete(ids: Array(Set(ids))), deadlineMilliseconds: 5000) }) else { return }
                _ = single.remove(Set(ids.map { VectorID($0) }))
                deleted.formUnion(ids)
                tally.withLock { $0.deletes += 1 }
            } else {
                do {
                    let reply = try client.search(SmallData.batch(queries), options: SearchOptions(k: 10, nprobe: 16),
                                                  deadlineMilliseconds: 3000)
                    tally.withLock { $0.searches += 1 }
                    if reply.partial {
                        tally.withLock { $0.partialSearches += 1 }
                    } else {
                        try checkAnswer(reply, queries: queries)
                    }
                } catch {
                    tally.withLock { $0.failedAttempts += 1 }
                    Thread.sleep(forTimeInterval: 0.05)
                }
            }
        }
    }

    /// Runs `operation` until it succeeds; false when the run ends first (the operation then
    /// stays unresolved and the final checks resolve it by retrying once the cluster is healed).
    func retry(_ operation: @escaping () throws -> Void) -> Bool {
        while true {
            do {
                try operation()
                return true
            } catch {
                tally.withLock { $0.failedAttempts += 1 }
                if stopClient.load(ordering: .relaxed) {
                    pending = operation
                    return false
                }
                Thread.sleep(forTimeInterval: 0.1)
            }
        }
    }

    /// An operation the client had not seen acknowledged when the run ended.
    var pending: (() throws -> Void)?
}

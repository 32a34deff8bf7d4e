import ClusterClient
import Foundation
import Wire

/// The growing topology's operations: a replicated cluster gains and loses shards (with a copy
/// of a source, a copy of a target and the coordinator killed while the move runs), changes its
/// replication, and drains a host. Each runs through the `sightline cluster` commands, as an
/// operator would; the workers that leave become spares (stopped, their data wiped).
extension Nemesis {
    /// A growth command that was refused: in a scripted run every step must succeed.
    func refused(_ command: String, _ output: String) {
        print("nemesis:   \(command) refused: \(output.suffix(300))")
        if settings.script != nil { violation("\(command) was refused: \(output.suffix(600))") }
    }

    /// Workers holding no copy, the lowest first.
    func spares() -> [Int] {
        Set(0 ..< cluster.workerURLs.count).subtracting(live.withLock { $0 }).sorted()
    }

    /// Starts spare `worker` empty, as a copy of `shard` on host label `host`.
    func startSpare(_ worker: Int, shard: UInt32, host: String) throws {
        cluster.kill(shard: worker)
        try? FileManager.default.removeItem(atPath: "\(cluster.folder)/worker-\(worker)")
        shardOf[worker] = shard
        hostOf[worker] = host
        try startWorker(worker)
    }

    /// Stops `workers` (they left the cluster) and wipes their data.
    func retire(_ workers: [Int]) {
        live.withLock { $0 = $0.filter { !workers.contains($0) } }
        for worker in workers {
            cluster.kill(shard: worker)
            try? FileManager.default.removeItem(atPath: "\(cluster.folder)/worker-\(worker)")
        }
    }

    /// The shards of the map in force, with their live workers.
    func shardGroups() -> [UInt32: [Int]] {
        Dictionary(grouping: live.withLock { $0 }, by: { shardOf[$0]! })
    }

    /// A new shard whose two copies are spares; kills mid-move (see `followMove`).
    func addShard() throws {
        let free = spares()
        guard free.count >= 2 else { return print("nemesis:   (no two spares for a new shard)") }
        let shard = nextShard
        nextShard += 1
        let copies = Array(free.prefix(2))
        for worker in copies { try startSpare(worker, shard: shard, host: "g\(worker)-\(shard)") }
        Thread.sleep(forTimeInterval: 0.3)
        let sources = shardGroups()
        let run = try cluster.sightline(["cluster", "add-shard", "--no-wait", "--rate", "4000"]
            + copies.flatMap { ["--url", cluster.workerURLs[$0], "--host", hostOf[$0]!] })
        print("nemesis:   add-shard \(shard) on workers \(copies)")
        guard run.status == 0 else {
            refused("add-shard", run.output)
            for worker in copies { cluster.kill(shard: worker) }
            return
        }
        live.withLock { $0 = ($0 + copies).sorted() }
        let source = sources.values.sorted { $0[0] < $1[0] }.first!
        try followMove(killing: [source.last!, copies.last!])
    }

    /// Drains a shard (never below two) and retires its workers; kills mid-move.
    func removeShard() throws {
        let groups = shardGroups()
        guard groups.count > 2 else { return print("nemesis:   (two shards: none is drained)") }
        let shard = groups.keys.sorted().last!
        let leaving = groups[shard]!
        let run = try cluster.sightline(["cluster", "remove-worker", "--shard", "\(shard)", "--no-wait", "--rate", "4000"])
        print("nemesis:   remove-worker --shard \(shard)")
        guard run.status == 0 else { return refused("remove-worker", run.output) }
        let target = groups.filter { $0.key != shard }.values.sorted { $0[0] < $1[0] }.first!
        try followMove(killing: [leaving.first!, target.first!])
        retire(leaving)
    }

    /// Follows the move to its end: at the copy step one copy of a source and one of a target
    /// (`victims`) are killed -9 and restarted a second later; the coordinator is killed -9 at a
    /// step that rotates from move to move, and restarted (the move resumes by itself).
    func followMove(killing victims: [Int]) throws {
        let steps = ["begin", "copy", "verify", "flip", "delete"]
        let coordinatorStep = steps[movesFollowed % steps.count]
        movesFollowed += 1
        var killedCopies = false, killedCoordinator = false
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            guard let status = try? cluster.client().clusterStatus(deadlineMilliseconds: 2000) else {
                Thread.sleep(forTimeInterval: 0.1)
                continue
            }
            guard let move = status.move, move.step != "done" else {
                print("nemesis:   the move is done")
                return
            }
            if !killedCopies, move.step == "copy" || (move.step != "begin" && move.step != "planned") {
                killedCopies = true
                print("nemesis:   kill -9 workers \(victims) at step \(move.step)")
                for worker in victims { cluster.kill(shard: worker) }
                Thread.sleep(forTimeInterval: 1)
                for worker in victims { try startWorker(worker) }
            }
            if !killedCoordinator, move.step == coordinatorStep {
                killedCoordinator = true
                print("nemesis:   kill -9 the coordinator at step \(move.step)")
                cluster.killCoordinator()
                Thread.sleep(forTimeInterval: 0.5)
                try cluster.startCoordinator()
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        violation("a move did not finish within 120 s:\n\(cluster.logs().suffix(4000))")
    }

    /// Every shard gets `replication` copies: spares join (raising), or the coordinator picks the
    /// copies that leave (lowering), which then retire.
    func setReplication(_ replication: Int) throws {
        let groups = shardGroups()
        var joining: [Int] = []
        var free = spares()
        for (shard, workers) in groups.sorted(by: { $0.key < $1.key }) where workers.count < replication {
            for _ in workers.count ..< replication {
                guard !free.isEmpty else { return print("nemesis:   (not enough spares for replication \(replication))") }
                let worker = free.removeFirst()
                try startSpare(worker, shard: shard, host: "r\(worker)-\(shard)")
                joining.append(worker)
            }
        }
        Thread.sleep(forTimeInterval: 0.3)
        let before = try cluster.client().clusterStatus()
        let run = try cluster.sightline(["cluster", "set-replication", "\(replication)"]
            + joining.flatMap { ["--url", cluster.workerURLs[$0], "--host", hostOf[$0]!] })
        print("nemesis:   set-replication \(replication) (joining \(joining))")
        guard run.status == 0 else {
            refused("set-replication \(replication)", run.output)
            for worker in joining { cluster.kill(shard: worker) }
            return
        }
        live.withLock { $0 = ($0 + joining).sorted() }
        let after = Set(try cluster.client().clusterStatus().shards.map(\.url))
        let left = before.shards.map(\.url).filter { !after.contains($0) }
        retire(live.withLock { $0 }.filter { left.contains(cluster.workerURLs[$0]) })
    }

    /// Every copy leaves the host that holds the most copies; a spare on a new host label
    /// replaces each.
    func drainHost() throws {
        let workers = live.withLock { $0 }
        let byHost = Dictionary(grouping: workers, by: { hostOf[$0]! })
        guard let (host, leaving) = byHost.max(by: { ($0.value.count, $1.key) < ($1.value.count, $0.key) }) else { return }
        var free = spares()
        guard free.count >= leaving.count else { return print("nemesis:   (not enough spares to drain \(host))") }
        var replacements: [Int] = []
        for worker in leaving {
            let spare = free.removeFirst()
            try startSpare(spare, shard: shardOf[worker]!, host: "d\(spare)-\(shardOf[worker]!)")
            replacements.append(spare)
        }
        Thread.sleep(forTimeInterval: 0.3)
        let run = try cluster.sightline(["cluster", "drain-host", host]
            + replacements.flatMap { ["--url", cluster.workerURLs[$0], "--host", hostOf[$0]!] })
        print("nemesis:   drain-host \(host) (workers \(leaving), replaced by \(replacements))")
        guard run.status == 0 else {
            refused("drain-host \(host)", run.output)
            for worker in replacements { cluster.kill(shard: worker) }
            return
        }
        live.withLock { $0 = ($0 + replacements).sorted() }
        retire(leaving)
    }
}

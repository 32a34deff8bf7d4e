import ClusterClient
import ClusterModel
import Foundation
import ShardStore
import Wire

/// The copies of each shard: a copy joins (and may replace another), leaves, the replication
/// of every shard changes, or every copy leaves one host. Copies join by catching up from a
/// peer; one leaves only while the copies that stay can acknowledge writes.
extension Coordinator {
    /// Registers the empty worker at `url` (started with `--shard shard`) as a new copy of the
    /// shard; it copies the shard from an in-sync peer, then serves (during a move too: the
    /// move's transfers are numbered writes it replays). `replacing` names a copy that leaves
    /// the shard: at once when it is not in sync, else once the new copy is.
    func addReplica(url: String, host: String, shard: UInt32, replacing: String, dryRun: Bool) throws -> ClusterStatusReply {
        let id = ShardID(shard)
        try checkJoin(url: url, host: host, shard: shard, replacing: replacing)
        // A dry run dials nothing (see `addWorker`).
        guard !dryRun else { return clusterStatus() }
        let (_, worker) = try checkNewWorker(url: url, asReplicaOf: shard)
        do {
            _ = try worker.call(.codebookPush(version: codebook.version, indexFile: codebook.indexFile), deadlineMilliseconds: 30_000)
        } catch {
            throw ErrorReply(.unavailable, "the worker at \(url) did not take the codebooks: \(error)")
        }
        // The copy joins under the shard's write lock: no numbered write is half sent meanwhile,
        // and the checks run again on the set as it is now.
        return try writer.withShardLocks([id]) {
            try join(url: url, host: host, shard: shard, replacing: replacing)
        }
    }

    /// The checks of a copy joining `shard` that need no dialling (set-replication and drain-host
    /// run them for every copy before making any change).
    /// `alsoJoining`: hosts of copies joining the shard in the same request.
    func checkJoin(url: String, host: String, shard: UInt32, replacing: String, alsoJoining: [String] = []) throws {
        let id = ShardID(shard)
        let route = routing.withLock { $0 }
        guard !url.isEmpty else { throw ErrorReply(.badRequest, "a joining copy needs its worker's address (--url)") }
        // A shard that a move adds takes copies from the move's begin (its pages are numbered writes).
        guard route.current.placementShards.contains(shard) || route.toMap?.placementShards.contains(shard) == true else {
            throw ErrorReply(.notFound, "shard \(shard) is not in the shard map (version \(route.current.version))")
        }
        let copies = route.replicas(of: id)
        guard !copies.contains(where: { $0.url == url }) else {
            throw ErrorReply(.conflict, "\(url) is already a replica of shard \(shard)")
        }
        if !replacing.isEmpty {
            guard copies.contains(where: { $0.url == replacing }) else {
                throw ErrorReply(.notFound, "\(replacing) is not a replica of shard \(shard)")
            }
        }
        guard copies.count - (replacing.isEmpty ? 0 : 1) < 3 else {
            throw ErrorReply(.badRequest, "shard \(shard) already has 3 replicas (the most a shard may have)")
        }
        guard !copies.contains(where: { $0.url == replacing && $0.state == ReplicaState.joining }) else {
            throw ErrorReply(.conflict, "\(replacing) has not joined yet: it leaves with sightline cluster remove-replica")
        }
        let others = copies.filter { $0.url != replacing }.map(\.host)
        if let refusal = CopyPlacement.refusal(host: host, shardHosts: others + alsoJoining, clusterHosts: clusterHosts()) {
            throw ErrorReply(.badRequest, "shard \(shard): \(refusal)")
        }
    }

    /// The host of every copy of the maps' shards (zones known to the cluster come from these).
    func clusterHosts() -> [String] {
        routing.withLock { route in route.involvedShards.flatMap { route.replicas(of: $0).map(\.host) } }
    }

    /// Makes `changes` one after another; a failure says which were made before it.
    func applyInTurn(_ changes: [(description: String, apply: () throws -> Void)]) throws {
        for (index, change) in changes.enumerated() {
            do {
                try change.apply()
            } catch {
                let reply = error as? ErrorReply ?? ErrorReply(.internalError, "\(error)")
                let made = changes.prefix(index).map(\.description)
                throw ErrorReply(reply.code, "\(change.description): \(reply.message)"
                    + (made.isEmpty ? " (nothing was changed)" : " (already made: " + made.joined(separator: "; ")
                        + "; see sightline cluster status)"))
            }
        }
    }

    /// `addReplica`'s last part, with the shard's writes held: the checks again, on the set as it
    /// is now, then the copy recorded as joining.
    private func join(url: String, host: String, shard: UInt32, replacing: String) throws -> ClusterStatusReply {
        let id = ShardID(shard)
        let (now, stored) = routing.withLock { ($0.replicas(of: id), $0.replicaSets[shard] != nil) }
        guard !now.contains(where: { $0.url == url }), replacing.isEmpty || now.contains(where: { $0.url == replacing }),
              now.count - (replacing.isEmpty ? 0 : 1) < 3 else {
            throw ErrorReply(.conflict, "shard \(shard)'s replicas changed meanwhile: check sightline cluster status and ask again")
        }
        // A replaced copy in sync stays until the new one is (its data is the shard's); one that
        // is not (down, behind) leaves at once, so that it no longer counts toward the quorum.
        let replaceLater = now.contains { $0.url == replacing && $0.state == ReplicaState.inSync }
        if !replacing.isEmpty, !replaceLater {
            // The copy that stays must be in sync *and answering now*: replacing the only live
            // copy with an empty one would leave the shard's data nowhere.
            let reachable = now.filter {
                $0.url != replacing && $0.state == ReplicaState.inSync && states.state(at: $0.url)?.reachable == true
            }
            guard !reachable.isEmpty else {
                throw ErrorReply(.conflict, "no copy of shard \(shard) other than \(replacing) is in sync and answering: "
                                            + "it cannot be replaced now")
            }
        }
        let record = ReplicaRecord(shard: shard, url: url, host: host, state: ReplicaState.joining)
        try catalog.putReplica(record)
        if !stored, let first = now.first { try catalog.putReplica(first) }
        if replaceLater {
            try catalog.putReplacement(shard: shard, url: url, replaces: replacing)
        } else if !replacing.isEmpty {
            try catalog.removeReplica(shard: shard, url: replacing)
            try catalog.removeReplacement(shard: shard, url: replacing)
        }
        let updated = now.filter { replaceLater || $0.url != replacing } + [record]
        routing.withLock { $0.replicaSets[shard] = updated }
        log("shard \(shard): replica at \(url) joins" + (replacing.isEmpty ? "" : ", replacing \(replacing)")
            + (replaceLater ? " once it is in sync" : "") + "; it copies the shard from a peer, then serves")
        return clusterStatus()
    }

    /// Takes the copy of `shard` at `url` out of the shard, with the shard's writes held, while
    /// the copies that stay can acknowledge writes (enough of them in sync and answering for
    /// `write_quorum`, and at least one). The worker keeps its data; stop it when you like.
    func removeReplica(shard: UInt32, url: String, dryRun: Bool) throws -> ClusterStatusReply {
        let id = ShardID(shard)
        guard routing.withLock({ $0.current.placementShards.contains(shard) || $0.toMap?.placementShards.contains(shard) == true }) else {
            throw ErrorReply(.notFound, "shard \(shard) is in no shard map")
        }
        try writer.withShardLocks([id]) {
            try checkCopyMayLeave(url, of: id)
            guard !dryRun else { return }
            try writer.removeCopy(id, url: url)
            log("shard \(shard): replica at \(url) left the shard")
        }
        return clusterStatus()
    }

    /// Throws unless the copy at `url` may leave `shard` now (see `removeReplica`).
    func checkCopyMayLeave(_ url: String, of shard: ShardID, alsoLeaving: Set<String> = []) throws {
        let copies = routing.withLock { $0.replicas(of: shard) }
        guard copies.contains(where: { $0.url == url }) else {
            throw ErrorReply(.notFound, "\(url) is not a copy of shard \(shard) (its copies: "
                                        + copies.map(\.url).joined(separator: ", ") + ")")
        }
        let staying = copies.filter { $0.url != url && !alsoLeaving.contains($0.url) }
        let members = staying.filter { $0.state != ReplicaState.joining }.count
        let able = staying.filter { $0.state == ReplicaState.inSync && states.state(at: $0.url)?.reachable == true }.count
        let required = max(1, config.writeQuorum.required(copies: max(1, members)))
        guard able >= required else {
            throw ErrorReply(.conflict, "\(url) cannot leave shard \(shard) now: \(able) of the copies that stay would be in sync "
                                        + "and answering, and write_quorum = \(config.writeQuorum) needs \(required) (add a copy "
                                        + "first, or wait for one to catch up)")
        }
    }

    /// Gives every shard of the map in force `replication` copies. Raising it, the empty workers
    /// at `urls` (each started with the --shard it joins, on `hosts`) join and catch up;
    /// lowering it, the copies named in `urls` leave, or else the ones not in sync first, then
    /// those sharing a host, then those sharing a zone, then the last added. Every change is checked before any is made.
    func setReplication(_ replication: Int, urls: [String], hosts: [String], dryRun: Bool) throws -> ClusterStatusReply {
        guard (1 ... 3).contains(replication) else {
            throw ErrorReply(.badRequest, "replication = \(replication): a shard has 1, 2 or 3 copies")
        }
        guard hosts.isEmpty || hosts.count == urls.count, Set(urls).count == urls.count, !urls.contains(where: \.isEmpty) else {
            throw ErrorReply(.badRequest, "name each worker once (no empty --url), and one host per worker or none")
        }
        let shards = routing.withLock { $0.current.placementShards.map { ShardID($0) } }
        let copies = Dictionary(uniqueKeysWithValues: shards.map { shard in (shard, routing.withLock { $0.replicas(of: shard) }) })
        let missing = shards.map { max(0, replication - copies[$0]!.count) }.reduce(0, +)
        let leaving = try copiesToRetire(replication, shards: shards, copies: copies, named: Set(urls))
        if missing > 0 {
            guard urls.count == missing else {
                throw ErrorReply(.badRequest, "replication \(replication) needs \(missing) new \(missing == 1 ? "copy" : "copies") ("
                    + shards.filter { copies[$0]!.count < replication }
                        .map { "shard \($0): \(replication - copies[$0]!.count)" }.joined(separator: ", ")
                    + "); \(urls.count) workers were named: start each with the --shard it joins and name it with --url")
            }
        }
        for (shard, url) in leaving { try checkCopyMayLeave(url, of: shard, alsoLeaving: Set(leaving.map(\.url))) }
        guard !dryRun else { return clusterStatus() }
        var joining: [(url: String, host: String, shard: UInt32)] = []
        if missing > 0 {
            // Each worker tells which shard it joins; every shard must end with `replication`.
            for (index, url) in urls.enumerated() {
                let (_, worker) = try checkNewWorker(url: url, asReplicaOf: nil, anyShardInMap: true)
                guard case .health(let health) = try worker.call(.health, deadlineMilliseconds: 5000) else {
                    throw ErrorReply(.unavailable, "the worker at \(url) sent an unexpected reply")
                }
                joining.append((url, hosts.isEmpty ? "" : hosts[index], health.shard))
            }
            for shard in shards {
                let joins = joining.filter { $0.shard == shard.rawValue }
                guard copies[shard]!.count + joins.count == replication || copies[shard]!.count >= replication && joins.isEmpty else {
                    throw ErrorReply(.badRequest, "shard \(shard) has \(copies[shard]!.count) copies and \(joins.count) of the workers "
                                                  + "serve it: it needs \(max(0, replication - copies[shard]!.count))")
                }
                for (index, copy) in joins.enumerated() {
                    try checkJoin(url: copy.url, host: copy.host, shard: copy.shard, replacing: "",
                                  alsoJoining: joins.prefix(index).map(\.host))
                }
            }
        }
        try applyInTurn(joining.map { copy in
            ("\(copy.url) joins shard \(copy.shard)", { [self] in
                _ = try addReplica(url: copy.url, host: copy.host, shard: copy.shard, replacing: "", dryRun: false)
            })
        } + leaving.map { shard, url in
            ("\(url) leaves shard \(shard)", { [self] in _ = try removeReplica(shard: shard.rawValue, url: url, dryRun: false) })
        })
        log("replication \(replication): \(missing) copies join, \(leaving.count) leave")
        return clusterStatus()
    }

    /// The copies that leave when `replication` is lowered (see `setReplication`).
    func copiesToRetire(_ replication: Int, shards: [ShardID], copies: [ShardID: [ReplicaRecord]],
                        named: Set<String>) throws -> [(shard: ShardID, url: String)] {
        var leaving: [(shard: ShardID, url: String)] = []
        for shard in shards {
            let mine = copies[shard]!
            let excess = mine.count - replication
            guard excess > 0 else { continue }
            let hostCounts = Dictionary(grouping: mine.filter { !$0.host.isEmpty }, by: \.host).mapValues(\.count)
            let zoneCounts = Dictionary(grouping: mine.compactMap { CopyPlacement.zone(of: $0.host) }, by: { $0 }).mapValues(\.count)
            func rank(_ copy: ReplicaRecord) -> Int {
                if named.contains(copy.url) { return 0 }
                if copy.state != ReplicaState.inSync { return 1 }
                if (hostCounts[copy.host] ?? 0) > 1 { return 2 }
                if let zone = CopyPlacement.zone(of: copy.host), (zoneCounts[zone] ?? 0) > 1 { return 3 }
                return 4
            }
            let chosen = mine.enumerated().sorted { (rank($0.element), -$0.offset) < (rank($1.element), -$1.offset) }
                .prefix(excess).map(\.element.url)
            leaving += chosen.map { (shard, $0) }
        }
        let unknown = named.subtracting(leaving.map(\.url))
        if !leaving.isEmpty, !unknown.isEmpty {
            throw ErrorReply(.badRequest, "lowering the replication, --url names copies that leave: "
                                          + unknown.sorted().joined(separator: ", ") + " would not")
        }
        return leaving
    }

    /// Moves every copy off `host`: a copy with a replacement among `urls` (empty workers, each
    /// started with the --shard it replaces, on `hosts`, none of them `host`) stays until its
    /// replacement is in sync; one without leaves at once when its shard can spare it (the copies
    /// that stay can acknowledge writes). Every change is checked before any is made.
    func drainHost(_ host: String, urls: [String], hosts: [String], dryRun: Bool) throws -> ClusterStatusReply {
        guard !host.isEmpty else { throw ErrorReply(.badRequest, "name the host to drain") }
        guard hosts.isEmpty || hosts.count == urls.count, Set(urls).count == urls.count, !urls.contains(where: \.isEmpty),
              !hosts.contains(host) else {
            throw ErrorReply(.badRequest, "name each worker once (no empty --url), with one host per worker (not \(host)) or none")
        }
        let shards = routing.withLock { route in route.involvedShards }
        let onHost = shards.flatMap { shard in routing.withLock { $0.replicas(of: shard) }.filter { $0.host == host } }
        guard !onHost.isEmpty else {
            let known = Set(shards.flatMap { shard in routing.withLock { $0.replicas(of: shard) }.map(\.host) }).filter { !$0.isEmpty }
            throw ErrorReply(.notFound, "no copy is on host \(host) (hosts with copies: \(known.sorted().joined(separator: ", ")))")
        }
        guard !dryRun else {
            // A dry run dials nothing: it checks only that each copy could leave or be replaced.
            let spareable = onHost.filter { (try? checkCopyMayLeave($0.url, of: ShardID($0.shard))) != nil }.count
            guard urls.count >= onHost.count - spareable else {
                throw ErrorReply(.badRequest, "\(onHost.count - spareable) of the \(onHost.count) copies on \(host) cannot leave without "
                                              + "a replacement; \(urls.count) workers were named")
            }
            return clusterStatus()
        }
        var replacements: [UInt32: (url: String, host: String)] = [:]
        for (index, url) in urls.enumerated() {
            let (_, worker) = try checkNewWorker(url: url, asReplicaOf: nil, anyShardInMap: true)
            guard case .health(let health) = try worker.call(.health, deadlineMilliseconds: 5000) else {
                throw ErrorReply(.unavailable, "the worker at \(url) sent an unexpected reply")
            }
            guard onHost.contains(where: { $0.shard == health.shard }), replacements[health.shard] == nil else {
                throw ErrorReply(.badRequest, "the worker at \(url) serves shard \(health.shard), which has no copy on \(host) to "
                                              + "replace (or another worker replaces it)")
            }
            replacements[health.shard] = (url, hosts.isEmpty ? "" : hosts[index])
        }
        // A replacement takes the place of its shard's first copy on the host; any other copy of
        // that shard there (hosts recorded twice) must be one the shard can spare.
        var replaced: [String: (url: String, host: String)] = [:], used = Set<UInt32>()
        for copy in onHost {
            if let replacement = replacements[copy.shard], used.insert(copy.shard).inserted { replaced[copy.url] = replacement }
        }
        let spared = onHost.filter { replaced[$0.url] == nil }
        for copy in spared {
            try checkCopyMayLeave(copy.url, of: ShardID(copy.shard), alsoLeaving: Set(spared.map(\.url)))
        }
        for copy in onHost {
            if let replacement = replaced[copy.url] {
                try checkJoin(url: replacement.url, host: replacement.host, shard: copy.shard, replacing: copy.url)
            }
        }
        try applyInTurn(onHost.map { copy in
            if let replacement = replaced[copy.url] {
                return ("\(replacement.url) replaces \(copy.url) in shard \(copy.shard)", { [self] in
                    _ = try addReplica(url: replacement.url, host: replacement.host, shard: copy.shard, replacing: copy.url, dryRun: false)
                })
            }
            return ("\(copy.url) leaves shard \(copy.shard)", { [self] in
                _ = try removeReplica(shard: copy.shard, url: copy.url, dryRun: false)
            })
        })
        log("drain of host \(host): \(replacements.count) copies replaced, \(spared.count) left")
        return clusterStatus()
    }
}

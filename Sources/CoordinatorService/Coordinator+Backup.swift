import ClusterModel
import Dispatch
import ServiceSupport
import Wire

/// A cluster backup: one consistent moment for the catalog and every shard, copied where each
/// lives, then read piece by piece through the coordinator.
extension Coordinator {
    func backup(_ step: BackupStep) throws -> BackupReply {
        let copy = BackupCopy(directory: config.dataDirectory, name: "catalog")
        switch step {
        case .snapshot:
            // One backup at a time: a second one would replace the copies the first still reads.
            // A backup left unfinished (its client gone) gives way after ten minutes.
            try backupStarted.withLock { started in
                if let started, DispatchTime.now() < started + .seconds(600) {
                    throw ErrorReply(.conflict, "another backup is being read; try again when it has finished")
                }
                started = .now()
            }
            do {
                return .parts(try snapshot(copy))
            } catch {
                backupStarted.withLock { $0 = nil }
                throw error
            }
        case .read(nil, let offset, let length): return .data(try copy.read(offset: offset, length: length))
        case .read(let shard?, let offset, let length):
            let id = ShardID(shard)
            guard routing.withLock({ $0.current.placementShards.contains(shard) }) else {
                throw ErrorReply(.notFound, "shard \(shard) is not in the shard map")
            }
            // The pieces come from the copy that made the snapshot.
            guard let url = backupSources.withLock({ $0[id] }),
                  case .success(.backup(.data(let data))) = shardCalls.call([WorkerCall(shard: id, url: url, body: .backup(step))],
                                                                        deadlineMilliseconds: 60_000)[0],
                  data.count <= length else {
                throw ErrorReply(.unavailable, "shard \(shard) did not send its backup piece at \(offset)")
            }
            return .data(data)
        case .finish:
            backupStarted.withLock { $0 = nil }
            copy.remove()
            let sources = backupSources.withLock { sources in defer { sources = [:] }; return sources }
            _ = shardCalls.call(sources.map { WorkerCall(shard: $0.key, url: $0.value, body: .backup(.finish)) },
                                deadlineMilliseconds: 60_000)
            return .data([])
        }
    }

    /// With writes held off (searches go on) and no move in progress, the catalog and every
    /// shard of the map copy themselves: the copies hold the same acknowledged writes.
    func snapshot(_ copy: BackupCopy) throws -> [BackupPart] {
        try writes.exclusive {
            if let move = routing.withLock({ $0.move }) {
                throw ErrorReply(.conflict, "a \(move.kind) move is at step \(move.step.rawValue): back up once it is done")
            }
            let catalogBytes = try catalog.backup(to: copy.path)
            let shards = routing.withLock { $0.current.placementShards }.map { ShardID($0) }
            // Writes wait meanwhile: a shard that does not answer in time fails the backup, not the writes.
            // Only an in-sync copy may stand for its shard; one that fails (dead, hung, cut off)
            // hands over to the next, as reads do: a degraded cluster is when a backup is wanted.
            var candidates: [ShardID: [String]] = [:]
            for shard in shards {
                let serving = shardCalls.servingReplicas(of: shard)
                guard !serving.isEmpty else {
                    throw ErrorReply(.unavailable, "shard \(shard) has no copy in sync: a backup needs one per shard")
                }
                candidates[shard] = serving
            }
            // Copies that answer a health probe now go first: a dead one would cost the
            // snapshot's whole deadline before the next copy is tried.
            let probes = candidates.flatMap { shard, urls in
                urls.count > 1 ? urls.map { WorkerCall(shard: shard, url: $0, body: .health) } : []
            }
            let answered = Set(zip(probes, shardCalls.call(probes, deadlineMilliseconds: 1000, probe: true)).compactMap { call, reply in
                if case .success = reply { return call.url } else { return nil }
            })
            for (shard, urls) in candidates where urls.count > 1 {
                candidates[shard] = urls.filter { answered.contains($0) } + urls.filter { !answered.contains($0) }
            }
            var sources: [ShardID: String] = [:], made: [ShardID: BackupPart] = [:], failures: [ShardID: [String]] = [:]
            while made.count < shards.count {
                let round = shards.filter { made[$0] == nil }.compactMap { shard -> WorkerCall? in
                    guard let url = candidates[shard]?.first else { return nil }
                    candidates[shard]?.removeFirst()
                    return WorkerCall(shard: shard, url: url, body: .backup(.snapshot))
                }
                guard !round.isEmpty else {
                    let reasons = shards.filter { made[$0] == nil }
                        .map { "shard \($0): \(failures[$0, default: []].joined(separator: "; "))" }
                    throw ErrorReply(.unavailable, "no copy of \(reasons.joined(separator: " / ")) made its backup copy; "
                                                   + "every shard needs one copy that answers")
                }
                for (call, reply) in zip(round, shardCalls.call(round, deadlineMilliseconds: 120_000)) {
                    guard case .success(.backup(.parts(let parts))) = reply, parts.count == 1, parts[0].shard == call.shard.rawValue else {
                        failures[call.shard, default: []].append("\(call.url): \(ShardCalls.failureMessage(reply))")
                        log("backup: shard \(call.shard)'s copy at \(call.url) did not copy itself (\(ShardCalls.failureMessage(reply))); "
                            + "trying another in-sync copy")
                        continue
                    }
                    sources[call.shard] = call.url
                    made[call.shard] = parts[0]
                }
            }
            backupSources.withLock { $0 = sources }
            let parts = [BackupPart(shard: nil, bytes: catalogBytes)] + shards.map { made[$0]! }
            log("backup: catalog (\(catalogBytes) bytes) and \(shards.count) shards copied")
            return parts
        }
    }
}

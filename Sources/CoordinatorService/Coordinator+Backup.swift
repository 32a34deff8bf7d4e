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
                  case .success(.backup(.data(let data))) = callWorkers([WorkerCall(shard: id, url: url, body: .backup(step))],
                                                                        deadlineMilliseconds: 60_000)[0],
                  data.count <= length else {
                throw ErrorReply(.unavailable, "shard \(shard) did not send its backup piece at \(offset)")
            }
            return .data(data)
        case .finish:
            backupStarted.withLock { $0 = nil }
            copy.remove()
            let sources = backupSources.withLock { sources in defer { sources = [:] }; return sources }
            _ = callWorkers(sources.map { WorkerCall(shard: $0.key, url: $0.value, body: .backup(.finish)) }, deadlineMilliseconds: 60_000)
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
            // Only an in-sync copy may stand for its shard.
            let sources = try Dictionary(uniqueKeysWithValues: shards.map { shard in
                guard let url = servingReplicas(of: shard).first else {
                    throw ErrorReply(.unavailable, "shard \(shard) has no copy in sync: a backup needs one per shard")
                }
                return (shard, url)
            })
            backupSources.withLock { $0 = sources }
            let sent = callWorkers(shards.map { WorkerCall(shard: $0, url: sources[$0]!, body: .backup(.snapshot)) },
                                   deadlineMilliseconds: 120_000)
            let replies = Dictionary(uniqueKeysWithValues: zip(shards, sent))
            var parts = [BackupPart(shard: nil, bytes: catalogBytes)]
            for shard in shards {
                guard case .success(.backup(.parts(let made))) = replies[shard]!, made.count == 1, made[0].shard == shard.rawValue else {
                    throw ErrorReply(.unavailable, "shard \(shard) did not copy itself: \(failureMessage(replies[shard]!)); "
                                                   + "every shard must answer for a backup")
                }
                parts.append(made[0])
            }
            log("backup: catalog (\(catalogBytes) bytes) and \(shards.count) shards copied")
            return parts
        }
    }
}

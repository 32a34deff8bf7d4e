import ClusterModel
import Foundation
import ServiceSupport
import ShardStore
import VectorIndex
import VectorMath
import Wire

extension Worker {
    /// Runs one admitted request; `deadline` is when its sender stops waiting (nil: no limit);
    /// `sequence` numbers a replicated write.
    func respond(to body: RequestBody, deadline: DispatchTime?, sequence: WriteSequence? = nil) throws -> ResponseBody {
        switch body {
        case .search(let vector, let options):
            let reply = try search(VectorBatch(dimension: vector.count, values: vector), options, deadline: deadline)
            return .search(reply)
        case .searchBatch(let batch, let options):
            return .searchBatch(try search(batch, options, deadline: deadline))
        case .add(let batch):
            let (added, ignoredIDs) = try add(batch, sequence: sequence)
            return .add(added: added, ignored: UInt64(ignoredIDs.count), ignoredIDs: ignoredIDs)
        case .delete(let ids):
            return .delete(deleted: try delete(ids, sequence: sequence))
        case .stats:
            return .stats(shards: [stats()], totalVectors: UInt64(currentCount()))
        case .backup(let step):
            return .backup(try backup(step))
        case .health:
            let current = index.withLock { $0 }
            return .health(HealthReply(cluster: settings.cluster, shard: settings.shard.rawValue, codebookVersion: current?.version ?? 0,
                                       vectorCount: UInt64(current?.servedCount ?? 0),
                                       state: current == nil ? "waiting-for-codebooks" : "serving",
                                       mapVersion: current?.placement.olderVersion ?? 0,
                                       pendingMapVersion: current?.placement.newerVersion ?? 0,
                                       unownedCount: UInt64(current?.count(.unowned) ?? 0), lastSeq: appliedSeq.withLock { $0 }))
        case .codebookPush(let version, let file):
            try acceptCodebook(version: version, file: file)
            return .codebookPush(version: version)
        case .codebookFetch:
            guard let (version, file) = try store.codebook() else { throw ErrorReply(.notFound, "this shard has no codebook yet") }
            return .codebookFetch(version: version, indexFile: file)
        case .shardTransfer(let transfer):
            return .shardTransfer(accepted: try accept(transfer, sequence: sequence))
        case .fetchVectors(let ids):
            return .fetchVectors(try fetch(ids))
        case .placementUpdate(let placements):
            return .placementUpdate(try updatePlacements(placements))
        case .shardExport(let after, let limit):
            return .shardExport(try export(after: after, limit: limit))
        case .shardFlow(let query):
            return .shardFlow(try flow(query, sequence: sequence))
        case .replicaPull(let request):
            return .replicaPull(try pull(request))
        case .replicaApply(let page):
            return .replicaApply(lastSeq: try applyReplicaPage(page))
        case .verify, .identify, .clusterStatus, .clusterChange:
            throw ErrorReply(.badRequest, "\(body.name) is answered by the coordinator, not by a worker")
        }
    }

    /// Searches the shard. k is clamped to the shard's size: a shard may hold fewer vectors than
    /// the cluster-wide k, and the coordinator's merge fills the rest from other shards.
    ///
    /// Large batches run in pieces of `Worker.searchPiece` queries; once the deadline has passed
    /// the rest is dropped with `deadlineExceeded`, since nobody waits for it any more. Pieces are
    /// a multiple of the index's own chunk of 32 queries, so the answer is bit for bit the one a
    /// single call would give.
    func search(_ batch: VectorBatch, _ options: SearchOptions, deadline: DispatchTime? = nil) throws -> SearchReply {
        let current = try snapshot()
        try validateQueries(batch, dimension: current.template.dimension)
        try validateSearchOptions(options, queryCount: batch.count, listCount: current.template.listCount,
                                  storesVectors: current.template.configuration.storesVectors)
        let queries = try Matrix(dimension: batch.dimension, values: batch.values)
        let ranked = try probes(options, queryCount: batch.count)
        var results: [NeighborList] = []
        results.reserveCapacity(batch.count)
        for start in stride(from: 0, to: batch.count, by: Worker.searchPiece) {
            if let deadline, DispatchTime.now() > deadline {
                throw ErrorReply(.deadlineExceeded, "shard \(settings.shard): the deadline passed after \(start) of \(batch.count) queries")
            }
            let piece = start == 0 && batch.count <= Worker.searchPiece
                ? queries : queries.slice(start ..< min(batch.count, start + Worker.searchPiece))
            // Pieces are multiples of 32 queries: the ranking's chunks stay the coordinator's.
            let pieceProbes = ranked.map { Array($0[start ..< start + piece.rowCount]) }
            results += try current.search(piece, k: options.k, probeCount: options.nprobe, refine: options.refine,
                                          threads: settings.searchThreads, mapVersion: options.mapVersion, probes: pieceProbes,
                                          queriesApart: options.queriesApart, probeRatio: options.probeRatio)
                .map(NeighborList.init)
        }
        return SearchReply(results: results)
    }

    /// The coordinator's ranking of the coarse centroids, per query (nil: rank here). The options
    /// were checked (counts, list numbers, finite terms); a query may not name a list twice.
    func probes(_ options: SearchOptions, queryCount: Int) throws -> [[Probe]]? {
        guard !options.probeLists.isEmpty else { return nil }
        let n = options.nprobe
        return try (0 ..< queryCount).map { query in
            let lists = options.probeLists[query * n ..< (query + 1) * n]
            guard Set(lists).count == n else { throw ErrorReply(.badRequest, "query \(query)'s probe lists name a list twice") }
            return zip(lists, options.probeTerms[query * n ..< (query + 1) * n]).map {
                Probe(list: ListNumber(Int($0)), centroidDistance: $1)
            }
        }
    }

    /// Stores the batch; returns how many were new and the ids already held (left as they were).
    func add(_ batch: AddBatch, sequence: WriteSequence? = nil) throws -> (UInt64, [UInt64]) {
        try writeLock.withLock { _ in
            let current = try snapshot()
            try admit(sequence)
            guard batch.codebookVersion == current.version else {
                throw ErrorReply(.conflict, "batch is meant for codebook version \(String(batch.codebookVersion, radix: 16)), "
                                            + "shard \(settings.shard) holds \(String(current.version, radix: 16))")
            }
            guard batch.vectors.dimension == current.template.dimension else {
                throw ErrorReply(.badRequest, "wrong dimension: the shard holds \(current.template.dimension)-d vectors, "
                                              + "got \(batch.vectors.dimension)-d")
            }
            guard batch.labels.isEmpty || batch.labels.count == batch.ids.count,
                  batch.keys.isEmpty || batch.keys.count == batch.ids.count else {
                throw ErrorReply(.badRequest, "labels and keys must be empty or one per id")
            }
            let vectors = try Matrix(dimension: batch.vectors.dimension, values: batch.vectors.values)
            let ids = batch.ids.map { VectorID($0) }
            let (lists, codes) = try current.template.prepareAdd(vectors, ids: ids, threads: settings.searchThreads)
            let m = current.template.codeSize, dimension = current.template.dimension
            let storesVectors = current.template.configuration.storesVectors
            let entries = batch.ids.indices.map { row in
                StoredEntry(id: batch.ids[row], list: lists[row], code: Array(codes[row * m ..< (row + 1) * m]),
                            vector: storesVectors ? Array(vectors.values[row * dimension ..< (row + 1) * dimension]) : nil,
                            label: batch.labels.isEmpty ? nil : batch.labels[row], key: batch.keys.isEmpty ? nil : batch.keys[row])
            }
            // Durable first: the in-memory index changes only after the commit.
            let inserted = try store.insert(entries, seq: sequence?.seq)
            if let sequence { appliedSeq.withLock { $0 = sequence.seq } }
            tombstones.withLock { if !$0.isEmpty { $0.subtract(batch.ids) } }
            let fresh = inserted.indices.filter { inserted[$0] }
            if !fresh.isEmpty {
                let freshVectors = storesVectors ? vectors.rows(at: fresh) : nil
                var freshCodes: [UInt8] = []
                for row in fresh { freshCodes.append(contentsOf: codes[row * m ..< (row + 1) * m]) }
                // Changed outside the lock (copy on write), swapped in under it: searches never wait for a copy.
                var next = current
                next.append(freshVectors, ids: fresh.map { ids[$0] }, lists: fresh.map { lists[$0] }, codes: freshCodes)
                install(next)
            }
            return (UInt64(fresh.count), batch.ids.indices.filter { !inserted[$0] }.map { batch.ids[$0] })
        }
    }

    func delete(_ ids: [UInt64], sequence: WriteSequence? = nil) throws -> UInt64 {
        try writeLock.withLock { _ in
            var next = try snapshot()
            try admit(sequence)
            let deleted = try store.delete(ids, seq: sequence?.seq)
            if let sequence { appliedSeq.withLock { $0 = sequence.seq } }
            if next.placement.placements.count == 2 {
                // Only ids that may still arrive here, and at most `maxTombstones` (verify catches the rest).
                let absent = Set(ids).subtracting(deleted).filter { next.placement.part(of: $0) == .arriving }
                if !absent.isEmpty {
                    tombstones.withLock { if $0.count + absent.count <= Worker.maxTombstones { $0.formUnion(absent) } }
                }
            }
            guard !deleted.isEmpty else { return 0 }
            next.remove(Set(deleted.map { VectorID($0) }))
            install(next)
            return UInt64(deleted.count)
        }
    }

    func acceptCodebook(version: UInt64, file: [UInt8]) throws {
        try writeLock.withLock { _ in
            // The cheap checks first: a repeated or conflicting push costs no decoding.
            let current = index.withLock { $0 }
            if let current, current.version == version { return }
            if let current, current.count > 0 {
                throw StoreError.codebookConflict(stored: current.version, offered: version)
            }
            guard codebookVersion(of: file) == version else {
                throw ErrorReply(.badRequest, "codebook bytes do not match version \(String(version, radix: 16))")
            }
            let decoded = try IndexFile.decode(file)
            guard decoded.count == 0 else { throw ErrorReply(.badRequest, "a codebook push must carry a trained, empty index") }
            try store.setCodebook(version: version, indexFile: file)
            let placement = try current?.placement ?? storedPlacement()
            var fresh = ShardIndex(version: version, template: decoded, placement: placement)
            try fresh.load(try store.loadAll(dimension: decoded.dimension))
            install(fresh)
            log("shard \(settings.shard): codebook \(String(version, radix: 16)) installed")
        }
    }

    /// Stored vectors of `ids`, or their PQ reconstructions (centroid + decoded residual) when
    /// the shard keeps no full vectors. Unowned entries are never answered.
    func fetch(_ ids: [UInt64]) throws -> FetchedVectors {
        let current = try snapshot()
        let template = current.template
        try checkFetchSize(ids.count, dimension: template.dimension)
        let wanted = Set(ids)
        let dimension = template.dimension, m = template.codeSize, storesVectors = template.configuration.storesVectors
        var found: [UInt64] = [], values: [Float] = []
        current.forEachEntry { part, number, list, position in
            guard part != .unowned, wanted.contains(list.ids[position]) else { return }
            found.append(list.ids[position])
            if storesVectors {
                values.append(contentsOf: list.vectors[position * dimension ..< (position + 1) * dimension])
            } else {
                let residual = template.decodeResiduals(Array(list.codes[position * m ..< (position + 1) * m]))
                values.append(contentsOf: zip(template.coarseCentroids.row(number), residual.values).map { $0 + $1 })
            }
        }
        return FetchedVectors(dimension: dimension, found: found, values: values, approximate: !storesVectors)
    }

    func currentCount() -> Int { index.withLock { $0?.servedCount ?? 0 } }

    func stats() -> ShardStatsReply {
        let current = index.withLock { $0 }
        let summary = latencies.summary()
        var reply = ShardStatsReply()
        reply.shard = settings.shard.rawValue
        reply.vectorCount = UInt64(current?.servedCount ?? 0)
        if let current {
            var sizes = [UInt32](repeating: 0, count: current.template.listCount)
            current.forEachEntry { part, number, _, _ in if part == .settled || part == .leaving { sizes[number] += 1 } }
            reply.listSizes = sizes
            reply.memoryBytes = UInt64(current.parts.reduce(0) { $0 + $1.memoryUsage.perVectorBytes }
                                       + current.template.memoryUsage.fixedBytes)
        }
        reply.queriesServed = summary.count
        reply.latencyP50Milliseconds = Float(summary.p50)
        reply.latencyP95Milliseconds = Float(summary.p95)
        reply.latencyP99Milliseconds = Float(summary.p99)
        reply.codebookVersion = current?.version ?? 0
        reply.reachable = true
        return reply
    }
}

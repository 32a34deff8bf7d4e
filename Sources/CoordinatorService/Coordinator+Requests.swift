import ClusterModel
import Foundation
import ServiceSupport
import VectorIndex
import VectorMath
import Wire

extension Coordinator {
    func respond(to body: RequestBody, deadlineMilliseconds: Int) throws -> ResponseBody {
        switch body {
        case .search(let vector, let options):
            return .search(try searchOne(vector, options, deadlineMilliseconds: deadlineMilliseconds))
        case .searchBatch(let batch, let options) where batch.dimension > 0 && batch.values.count == batch.dimension:
            return .searchBatch(try searchOne(batch.values, options, deadlineMilliseconds: deadlineMilliseconds))
        case .searchBatch(let batch, let options):
            return .searchBatch(try search(batch, options, deadlineMilliseconds: deadlineMilliseconds))
        case .add(let batch):
            // A write may take longer than a search (a copy that stalls gets its straggler time),
            // but it starts only within the client's own deadline (see `ReplicatedWriter.write`).
            let notAfter = DispatchTime.now() + .milliseconds(deadlineMilliseconds)
            let (added, ignored) = try add(batch, deadlineMilliseconds: max(deadlineMilliseconds, 60_000), notAfter: notAfter)
            return .add(added: added, ignored: ignored)
        case .delete(let ids):
            let notAfter = DispatchTime.now() + .milliseconds(deadlineMilliseconds)
            return .delete(deleted: try delete(ids, deadlineMilliseconds: max(deadlineMilliseconds, 60_000), notAfter: notAfter))
        case .stats:
            let shardStats = stats(deadlineMilliseconds: deadlineMilliseconds)
            return .stats(shards: shardStats, totalVectors: shardStats.reduce(0) { $0.saturatingAdd($1.vectorCount) })
        case .health:
            return .health(monitor.report(cluster: config.cluster))
        case .codebookFetch:
            return .codebookFetch(version: codebook.version, indexFile: codebook.indexFile)
        case .codebookPush:
            throw ErrorReply(.badRequest,
                             "codebooks are set when the coordinator starts (--codebooks or --train); restart it to change them")
        case .shardTransfer, .placementUpdate, .shardExport, .shardFlow:
            throw ErrorReply(.badRequest, "\(body.name) is spoken between the coordinator and its workers during a move")
        case .replicaPull, .replicaApply:
            throw ErrorReply(.badRequest, "\(body.name) is spoken between the coordinator and its workers when a replica catches up")
        case .clusterStatus:
            return .clusterStatus(clusterStatus())
        case .clusterChange(let change):
            return .clusterChange(try changeCluster(change))
        case .backup(let step):
            return .backup(try backup(step))
        case .verify(let query):
            return try verifyPair(query, deadlineMilliseconds: deadlineMilliseconds)
        case .identify(let vector, let threshold, let nprobe):
            return .identify(try identify(vector, threshold: threshold, nprobe: nprobe, deadlineMilliseconds: deadlineMilliseconds))
        case .fetchVectors(let ids):
            return .fetchVectors(try fetch(ids, deadlineMilliseconds: deadlineMilliseconds))
        }
    }

    /// One query: through the micro-batcher when it is on (checked alone first, so that a bad
    /// query cannot fail the batch it would have joined).
    func searchOne(_ vector: [Float], _ options: SearchOptions, deadlineMilliseconds: Int) throws -> SearchReply {
        let single = VectorBatch(dimension: vector.count, values: vector)
        guard let batcher else { return try search(single, options, deadlineMilliseconds: deadlineMilliseconds) }
        var options = options
        // nprobe 0 is the cluster's default, as `search` reads it (and batches with it).
        if options.nprobe == 0 { options.nprobe = config.index.defaultNprobe }
        try validateQueries(single, dimension: template.dimension)
        try validateSearchOptions(options, queryCount: 1, listCount: template.listCount, storesVectors: config.index.storesVectors)
        return try batcher.search(vector, options, deadlineMilliseconds: deadlineMilliseconds) { batch, options, deadline in
            try search(batch, options, deadlineMilliseconds: deadline)
        }
    }

    /// Fans a batch out to every shard and merges per query. Shards that fail or miss the deadline
    /// are named in `missingShards`; the answer still comes within the deadline.
    func search(_ batch: VectorBatch, _ options: SearchOptions, deadlineMilliseconds: Int) throws -> SearchReply {
        try validateQueries(batch, dimension: template.dimension)
        var options = options
        if options.nprobe == 0 { options.nprobe = config.index.defaultNprobe }
        try validateSearchOptions(options, queryCount: batch.count, listCount: template.listCount,
                                  storesVectors: config.index.storesVectors)
        guard options.probeRatio == 0 || template.metric == .l2 else {
            throw ErrorReply(.badRequest, "probe_ratio applies to L2 collections: inner-product centroid terms have no common scale")
        }
        let total = states.vectorTotal(of: routing.withLock { $0.readShards })
        if total > 0, UInt64(options.k) > total {
            throw ErrorReply(.badRequest, "k = \(options.k) is out of range: the collection holds \(total) vectors")
        }
        // The version is read and counted in flight together, so a move's sources delete only
        // after every search of the old map is answered.
        let (version, shards) = routing.withLock { route in
            route.searchesInFlight[route.current.version, default: 0] += 1
            return (route.current.version, route.readShards)
        }
        defer { routing.withLock { $0.searchesInFlight[version, default: 1] -= 1 } }
        options.mapVersion = version
        // The coarse centroids are ranked once here, not once per shard (the shards scan these lists).
        let ranked = try template.rankCentroids(try Matrix(dimension: batch.dimension, values: batch.values), probeCount: options.nprobe,
                                                queriesApart: options.queriesApart)
        options.probeLists = ranked.flatMap { $0.map { UInt32($0.list.rawValue) } }
        options.probeTerms = ranked.flatMap { $0.map(\.centroidDistance) }
        let bodies = Dictionary(uniqueKeysWithValues: shards.map { ($0, RequestBody.searchBatch(batch, options: options)) })
        let replies = shardCalls.readFanOut(bodies, deadlineMilliseconds: deadlineMilliseconds)
        var perShard: [[NeighborList]] = []
        var missing: [UInt32] = []
        for shard in shards {
            switch replies[shard] {
            case .success(.searchBatch(let reply)) where reply.results.count == batch.count:
                perShard.append(reply.results)
            case .failure(let error) where error.code == .badRequest:
                throw error
            case .failure(let error):
                // A shard skipped by its open breaker was logged once, when it opened.
                if !shardCalls.everyCopySkipped(shard) { log("search: shard \(shard) missing: \(error.message)") }
                missing.append(shard.rawValue)
            default:
                log("search: shard \(shard) sent an unexpected reply")
                missing.append(shard.rawValue)
            }
        }
        let merged = (0 ..< batch.count).map { query in
            NeighborList(mergeTopK(perShard.map { $0[query].neighbors }, k: options.k))
        }
        return SearchReply(results: merged, partial: !missing.isEmpty, missingShards: missing)
    }

    /// Routes each vector to its shard (and, during a move, to its shard in the next map too),
    /// sends the per-shard batches at once, and acknowledges only when every shard involved has
    /// committed. Counts come from the owners in the map in force.
    func add(_ batch: AddBatch, deadlineMilliseconds: Int, notAfter: DispatchTime = .distantFuture) throws -> (UInt64, UInt64) {
        try writes.shared { try routedAdd(batch, deadlineMilliseconds: deadlineMilliseconds, notAfter: notAfter) }
    }

    func routedAdd(_ batch: AddBatch, deadlineMilliseconds: Int, notAfter: DispatchTime = .distantFuture) throws -> (UInt64, UInt64) {
        guard batch.vectors.dimension == template.dimension else {
            throw ErrorReply(.badRequest, "wrong dimension: the collection holds \(template.dimension)-d vectors, "
                                          + "got \(batch.vectors.dimension)-d")
        }
        guard !batch.ids.isEmpty, batch.vectors.values.count == batch.ids.count * template.dimension else {
            throw ErrorReply(.badRequest, "\(batch.ids.count) ids need \(batch.ids.count * template.dimension) values, "
                                          + "got \(batch.vectors.values.count)")
        }
        guard batch.labels.isEmpty || batch.labels.count == batch.ids.count,
              batch.keys.isEmpty || batch.keys.count == batch.ids.count else {
            throw ErrorReply(.badRequest, "labels and keys must be empty or one per id")
        }
        if let position = batch.vectors.values.firstIndex(where: { !$0.isFinite }) {
            throw ErrorReply(.badRequest, "vector \(position / template.dimension) "
                                          + "(id \(batch.ids[position / template.dimension])) holds NaN or infinity")
        }
        guard Set(batch.ids).count == batch.ids.count else { throw ErrorReply(.badRequest, "the batch repeats an id: ids must be unique") }
        try checkThumbnails(of: batch)
        let dimension = template.dimension
        let route = routing.withLock { $0 }
        var owners: [ShardID: [Int]] = [:], copies: [ShardID: [Int]] = [:]
        for (row, id) in batch.ids.enumerated() {
            let (owner, copy) = route.writeOwners(of: id)
            owners[owner, default: []].append(row)
            if let copy { copies[copy, default: []].append(row) }
        }
        func body(_ rows: [Int]) -> RequestBody {
            var values: [Float] = []
            values.reserveCapacity(rows.count * dimension)
            for row in rows { values.append(contentsOf: batch.vectors.values[row * dimension ..< (row + 1) * dimension]) }
            return .add(AddBatch(
                ids: rows.map { batch.ids[$0] }, vectors: VectorBatch(dimension: dimension, values: values),
                labels: batch.labels.isEmpty ? [] : rows.map { batch.labels[$0] },
                keys: batch.keys.isEmpty ? [] : rows.map { batch.keys[$0] }, codebookVersion: codebook.version))
        }
        let calls = owners.keys.sorted().map { ($0, owners[$0]!) } + copies.keys.sorted().map { ($0, copies[$0]!) }
        let replies = writer.write(calls.map { ($0.0, body($0.1)) }, deadlineMilliseconds: deadlineMilliseconds, notAfter: notAfter)
        var added: UInt64 = 0, ignored: UInt64 = 0
        var failures: [(shard: ShardID, error: ErrorReply)] = []
        var committed = Array(repeating: true, count: batch.ids.count)
        var repeats = Set<UInt64>()
        for (position, reply) in replies.enumerated() {
            let (shard, rows) = calls[position], isOwner = position < owners.count
            switch reply {
            // A worker names at most the ids it was sent as repeats (a peer's counts are checked).
            case .success(.add(let shardAdded, _, let ignoredIDs)) where ignoredIDs.count <= rows.count:
                guard isOwner else { continue }
                // Only ids this shard was sent count as its repeats.
                let sent = Set(rows.map { batch.ids[$0] })
                let shardRepeats = ignoredIDs.filter { sent.contains($0) }
                added = added.saturatingAdd(shardAdded)
                ignored = ignored.saturatingAdd(UInt64(shardRepeats.count))
                repeats.formUnion(shardRepeats)
                states.adjustCount(of: shard, by: Int64(clamping: shardAdded))
            case .failure(let error):
                failures.append((shard, error))
                for row in rows { committed[row] = false }
            default:
                failures.append((shard, ErrorReply(.internalError, "unexpected reply")))
                for row in rows { committed[row] = false }
            }
        }
        // Labels and keys are recorded for the ids stored by this add. Repeats fill in only what
        // is missing: the shards commit before the catalog, so a coordinator that died between
        // the two left ids without their metadata, and the client's retry (or nng's resend) of
        // the same add is what completes it. A repeat never changes metadata already recorded.
        let stored = batch.ids.indices.filter { committed[$0] && !repeats.contains(batch.ids[$0]) }
        let repeated = batch.ids.indices.filter { committed[$0] && repeats.contains(batch.ids[$0]) }
        for (rows, onlyWhereMissing) in [(stored, false), (repeated, true)] where !rows.isEmpty {
            try catalog.recordItems(ids: rows.map { batch.ids[$0] }, labels: batch.labels.isEmpty ? [] : rows.map { batch.labels[$0] },
                                    keys: batch.keys.isEmpty ? [] : rows.map { batch.keys[$0] }, onlyWhereMissing: onlyWhereMissing)
            if !batch.thumbnails.isEmpty {
                try thumbnails?.put(ids: rows.map { batch.ids[$0] }, images: rows.map { batch.thumbnails[$0] },
                                    onlyWhereMissing: onlyWhereMissing)
            }
        }
        ingestRate.add(stored.count)
        guard failures.isEmpty else {
            throw addFailure(failures, committed: batch.ids.indices.filter { committed[$0] }.map { batch.ids[$0] }, of: batch.ids.count)
        }
        return (added, ignored)
    }

    /// The error of an add that some shard did not commit: which ids did, and a code a client can
    /// act on (retryable only when some failure may pass on retry).
    func addFailure(_ failures: [(shard: ShardID, error: ErrorReply)], committed: [UInt64], of total: Int) -> ErrorReply {
        let retryable = failures.contains { $0.error.code.mayPassOnRetry }
        let code = retryable ? ErrorCode.unavailable : failures[0].error.code
        let reasons = failures.map { "shard \($0.shard): \($0.error.message)" }.joined(separator: "; ")
        return ErrorReply(code, "\(committed.count) of \(total) ids committed; not every shard did (\(reasons))"
                                + (retryable ? "; retry the others: adds are idempotent" : ""), committedIDs: committed)
    }

    /// Deletes at each id's owner and, during a move, at its owner in the next map too.
    func delete(_ ids: [UInt64], deadlineMilliseconds: Int, notAfter: DispatchTime = .distantFuture) throws -> UInt64 {
        guard !ids.isEmpty else { return 0 }
        return try writes.shared { try routedDelete(ids, deadlineMilliseconds: deadlineMilliseconds, notAfter: notAfter) }
    }

    func routedDelete(_ ids: [UInt64], deadlineMilliseconds: Int, notAfter: DispatchTime = .distantFuture) throws -> UInt64 {
        let route = routing.withLock { $0 }
        var owners: [ShardID: [UInt64]] = [:], copies: [ShardID: [UInt64]] = [:]
        for id in ids {
            let (owner, copy) = route.writeOwners(of: id)
            owners[owner, default: []].append(id)
            if let copy { copies[copy, default: []].append(id) }
        }
        let calls = owners.keys.sorted().map { ($0, RequestBody.delete(ids: owners[$0]!)) }
            + copies.keys.sorted().map { ($0, RequestBody.delete(ids: copies[$0]!)) }
        var deleted: UInt64 = 0
        for (position, reply) in writer.write(calls, deadlineMilliseconds: deadlineMilliseconds, notAfter: notAfter).enumerated() {
            let shard = calls[position].0
            switch reply {
            case .success(.delete(let count)):
                guard position < owners.count else { continue }
                deleted = deleted.saturatingAdd(count)
                states.adjustCount(of: shard, by: -Int64(clamping: count))
            case .failure(let error):
                let retryable = error.code.mayPassOnRetry
                throw ErrorReply(retryable ? .unavailable : error.code,
                                 "shard \(shard): \(error.message)" + (retryable ? "; retry: deletes are idempotent" : ""))
            default: throw ErrorReply(.internalError, "shard \(shard) sent an unexpected reply")
            }
        }
        try catalog.deleteItems(ids)
        try thumbnails?.remove(ids: ids)
        return deleted
    }

    func stats(deadlineMilliseconds: Int) -> [ShardStatsReply] {
        let (shards, urls) = routing.withLock { route in (route.readShards, route.readShards.map { route.url(of: $0) ?? "" }) }
        let replies = shardCalls.fanOut(Dictionary(uniqueKeysWithValues: shards.map { ($0, RequestBody.stats) }),
                             deadlineMilliseconds: deadlineMilliseconds)
        return zip(shards, urls).map { shard, url in
            var entry = ShardStatsReply()
            if case .success(.stats(let list, _)) = replies[shard], let first = list.first { entry = first }
            entry.shard = shard.rawValue
            entry.url = url
            return entry
        }
    }

    func fetch(_ ids: [UInt64], deadlineMilliseconds: Int) throws -> FetchedVectors {
        try checkFetchSize(ids.count, dimension: template.dimension)
        var bodies: [ShardID: RequestBody] = [:]
        for (shard, rows) in Rendezvous.partition(ids, among: routing.withLock({ $0.readShards })) {
            bodies[shard] = .fetchVectors(ids: rows.map { ids[$0] })
        }
        var result = FetchedVectors(dimension: template.dimension, found: [], values: [], approximate: false)
        for (shard, reply) in shardCalls.readFanOut(bodies, deadlineMilliseconds: deadlineMilliseconds) {
            guard case .success(.fetchVectors(let part)) = reply else {
                throw ErrorReply(.unavailable, "shard \(shard) holding some of the ids did not answer")
            }
            // A worker's reply is checked before anything slices it: one whole vector per id found.
            guard part.dimension == template.dimension, part.values.count == part.found.count * template.dimension else {
                throw ErrorReply(.internalError, "shard \(shard) answered \(part.found.count) ids with \(part.values.count) values "
                    + "of dimension \(part.dimension)")
            }
            result.found += part.found
            result.values += part.values
            result.approximate = result.approximate || part.approximate
        }
        return result
    }

    /// Distance between two vectors (or two stored ids) and whether it is within `threshold`.
    func verifyPair(_ query: VerifyQuery, deadlineMilliseconds: Int) throws -> ResponseBody {
        let a: [Float], b: [Float], threshold: Float
        var approximate = false
        switch query {
        case .vectors(let first, let second, let limit):
            (a, b, threshold) = (first, second, limit)
            for vector in [a, b] {
                try validateQueries(VectorBatch(dimension: vector.count, values: vector), dimension: template.dimension)
            }
        case .ids(let first, let second, let limit):
            let fetched = try fetch([first, second], deadlineMilliseconds: deadlineMilliseconds)
            let d = template.dimension
            func vector(_ id: UInt64) throws -> [Float] {
                guard let row = fetched.found.firstIndex(of: id) else { throw ErrorReply(.notFound, "id \(id) is not in the collection") }
                return Array(fetched.values[row * d ..< (row + 1) * d])
            }
            (a, b, threshold) = (try vector(first), try vector(second), limit)
            approximate = fetched.approximate
        }
        guard threshold.isFinite else { throw ErrorReply(.badRequest, "threshold must be a finite number") }
        let distance = a.withUnsafeBufferPointer { x in
            b.withUnsafeBufferPointer { y in template.metric.distance(x.baseAddress!, y.baseAddress!, a.count) }
        }
        return .verify(distance: distance, same: distance <= threshold, approximate: approximate)
    }

    /// The best match of `vector` in the collection, or "not found" when it is farther than `threshold`.
    func identify(_ vector: [Float], threshold: Float, nprobe: Int, deadlineMilliseconds: Int) throws -> IdentifyReply {
        guard threshold.isFinite else { throw ErrorReply(.badRequest, "threshold must be a finite number") }
        let reply = try search(VectorBatch(dimension: vector.count, values: vector), SearchOptions(k: 1, nprobe: nprobe),
                               deadlineMilliseconds: deadlineMilliseconds)
        guard let best = reply.results.first, let id = best.ids.first, let distance = best.distances.first, distance <= threshold else {
            return IdentifyReply(found: false, distance: reply.results.first?.distances.first ?? .infinity, partial: reply.partial)
        }
        let item = try catalog.item(id)
        return IdentifyReply(found: true, id: id, label: item?.label, key: item?.key ?? "", distance: distance, partial: reply.partial)
    }
}

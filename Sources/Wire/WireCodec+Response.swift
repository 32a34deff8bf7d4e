import CProtobufC
import CSightlineProto

extension WireCodec {
    public static func encode(_ response: Response) -> [UInt8] {
        let arena = CArena()
        let message = arena.message(Sightline__V1__Response.self) { sightline__v1__response__init($0) }
        message.pointee.request_id = response.requestID

        func neighbors(_ list: NeighborList) -> UnsafeMutablePointer<Sightline__V1__Neighbors> {
            let pointer = arena.message(Sightline__V1__Neighbors.self) { sightline__v1__neighbors__init($0) }
            pointer.pointee.n_ids = list.ids.count
            pointer.pointee.ids = arena.copy(list.ids)
            pointer.pointee.n_distances = list.distances.count
            pointer.pointee.distances = arena.copy(list.distances)
            return pointer
        }
        func shardStats(_ stats: [ShardStatsReply]) -> UnsafeMutablePointer<UnsafeMutablePointer<Sightline__V1__ShardStats>?>? {
            arena.copy(stats.map { s -> UnsafeMutablePointer<Sightline__V1__ShardStats>? in
                let pointer = arena.message(Sightline__V1__ShardStats.self) { sightline__v1__shard_stats__init($0) }
                pointer.pointee.shard = s.shard
                pointer.pointee.vector_count = s.vectorCount
                pointer.pointee.n_list_sizes = s.listSizes.count
                pointer.pointee.list_sizes = arena.copy(s.listSizes)
                pointer.pointee.memory_bytes = s.memoryBytes
                pointer.pointee.queries_served = s.queriesServed
                pointer.pointee.latency_p50_ms = s.latencyP50Milliseconds
                pointer.pointee.latency_p95_ms = s.latencyP95Milliseconds
                pointer.pointee.latency_p99_ms = s.latencyP99Milliseconds
                pointer.pointee.codebook_version = s.codebookVersion
                pointer.pointee.url = arena.string(s.url)
                pointer.pointee.reachable = s.reachable ? 1 : 0
                return pointer
            })
        }
        func flows(_ flows: [Flow]) -> UnsafeMutablePointer<UnsafeMutablePointer<Sightline__V1__Flow>?>? {
            arena.copy(flows.map { flow -> UnsafeMutablePointer<Sightline__V1__Flow>? in
                let pointer = arena.message(Sightline__V1__Flow.self) { sightline__v1__flow__init($0) }
                pointer.pointee.from_shard = flow.from
                pointer.pointee.to_shard = flow.to
                pointer.pointee.count = flow.count
                return pointer
            })
        }
        func moveStatus(_ move: MoveStatus) -> UnsafeMutablePointer<Sightline__V1__MoveStatus> {
            let pointer = arena.message(Sightline__V1__MoveStatus.self) { sightline__v1__move_status__init($0) }
            pointer.pointee.kind = arena.string(move.kind)
            pointer.pointee.shard = move.shard
            pointer.pointee.from_version = move.fromVersion
            pointer.pointee.to_version = move.toVersion
            pointer.pointee.step = arena.string(move.step)
            pointer.pointee.copied = move.copied
            pointer.pointee.total = move.total
            pointer.pointee.error = arena.string(move.error)
            return pointer
        }
        // cluster_status and cluster_change both answer with a ClusterStatus.
        func clusterStatus(_ reply: ClusterStatusReply) -> UnsafeMutablePointer<Sightline__V1__ClusterStatus> {
            let pointer = arena.message(Sightline__V1__ClusterStatus.self) { sightline__v1__cluster_status__init($0) }
            pointer.pointee.map_version = reply.mapVersion
            pointer.pointee.n_shards = reply.shards.count
            pointer.pointee.shards = arena.copy(reply.shards.map { entry -> UnsafeMutablePointer<Sightline__V1__ShardEntry>? in
                let shard = arena.message(Sightline__V1__ShardEntry.self) { sightline__v1__shard_entry__init($0) }
                shard.pointee.shard = entry.shard
                shard.pointee.url = arena.string(entry.url)
                shard.pointee.host = arena.string(entry.host)
                shard.pointee.state = arena.string(entry.state)
                shard.pointee.vector_count = entry.vectorCount
                shard.pointee.reachable = entry.reachable ? 1 : 0
                shard.pointee.replica_state = arena.string(entry.replicaState)
                return shard
            })
            // Absent (NULL) when no move was ever made.
            pointer.pointee.move = reply.move.map(moveStatus)
            pointer.pointee.n_plan = reply.plan.count
            pointer.pointee.plan = flows(reply.plan)
            pointer.pointee.warning = arena.string(reply.warning)
            return pointer
        }

        switch response.body {
        case .error(let reply):
            let body = arena.message(Sightline__V1__Error.self) { sightline__v1__error__init($0) }
            body.pointee.code = Sightline__V1__ErrorCode(rawValue: reply.code.rawValue)
            body.pointee.message = arena.string(reply.message)
            body.pointee.n_committed_ids = reply.committedIDs.count
            body.pointee.committed_ids = arena.copy(reply.committedIDs)
            message.pointee.body_case = SIGHTLINE__V1__RESPONSE__BODY_ERROR
            message.pointee.error = body
        case .search(let reply):
            let body = arena.message(Sightline__V1__SearchResponse.self) { sightline__v1__search_response__init($0) }
            body.pointee.neighbors = neighbors(reply.results.first ?? NeighborList(ids: [], distances: []))
            body.pointee.partial = reply.partial ? 1 : 0
            body.pointee.n_missing_shards = reply.missingShards.count
            body.pointee.missing_shards = arena.copy(reply.missingShards)
            message.pointee.body_case = SIGHTLINE__V1__RESPONSE__BODY_SEARCH
            message.pointee.search = body
        case .searchBatch(let reply):
            let body = arena.message(Sightline__V1__SearchBatchResponse.self) { sightline__v1__search_batch_response__init($0) }
            body.pointee.n_results = reply.results.count
            body.pointee.results = arena.copy(reply.results.map { neighbors($0) as UnsafeMutablePointer<Sightline__V1__Neighbors>? })
            body.pointee.partial = reply.partial ? 1 : 0
            body.pointee.n_missing_shards = reply.missingShards.count
            body.pointee.missing_shards = arena.copy(reply.missingShards)
            message.pointee.body_case = SIGHTLINE__V1__RESPONSE__BODY_SEARCH_BATCH
            message.pointee.search_batch = body
        case .add(let added, let ignored, let ignoredIDs):
            let body = arena.message(Sightline__V1__AddResponse.self) { sightline__v1__add_response__init($0) }
            body.pointee.added = added
            body.pointee.ignored = ignored
            body.pointee.n_ignored_ids = ignoredIDs.count
            body.pointee.ignored_ids = arena.copy(ignoredIDs)
            message.pointee.body_case = SIGHTLINE__V1__RESPONSE__BODY_ADD
            message.pointee.add = body
        case .delete(let deleted):
            let body = arena.message(Sightline__V1__DeleteResponse.self) { sightline__v1__delete_response__init($0) }
            body.pointee.deleted = deleted
            message.pointee.body_case = SIGHTLINE__V1__RESPONSE__BODY_DELETE
            message.pointee.delete_ = body
        case .stats(let shards, let total):
            let body = arena.message(Sightline__V1__StatsResponse.self) { sightline__v1__stats_response__init($0) }
            body.pointee.n_shards = shards.count
            body.pointee.shards = shardStats(shards)
            body.pointee.total_vectors = total
            message.pointee.body_case = SIGHTLINE__V1__RESPONSE__BODY_STATS
            message.pointee.stats = body
        case .health(let reply):
            let body = arena.message(Sightline__V1__HealthResponse.self) { sightline__v1__health_response__init($0) }
            body.pointee.cluster = arena.string(reply.cluster)
            body.pointee.shard = reply.shard
            body.pointee.codebook_version = reply.codebookVersion
            body.pointee.vector_count = reply.vectorCount
            body.pointee.state = arena.string(reply.state)
            body.pointee.n_shards = reply.shards.count
            body.pointee.shards = shardStats(reply.shards)
            body.pointee.map_version = reply.mapVersion
            body.pointee.pending_map_version = reply.pendingMapVersion
            body.pointee.unowned_count = reply.unownedCount
            body.pointee.last_seq = reply.lastSeq
            message.pointee.body_case = SIGHTLINE__V1__RESPONSE__BODY_HEALTH
            message.pointee.health = body
        case .codebookPush(let version):
            let body = arena.message(Sightline__V1__CodebookPushResponse.self) { sightline__v1__codebook_push_response__init($0) }
            body.pointee.version = version
            message.pointee.body_case = SIGHTLINE__V1__RESPONSE__BODY_CODEBOOK_PUSH
            message.pointee.codebook_push = body
        case .codebookFetch(let version, let indexFile):
            let body = arena.message(Sightline__V1__CodebookFetchResponse.self) { sightline__v1__codebook_fetch_response__init($0) }
            body.pointee.version = version
            body.pointee.index_file = arena.binary(indexFile)
            message.pointee.body_case = SIGHTLINE__V1__RESPONSE__BODY_CODEBOOK_FETCH
            message.pointee.codebook_fetch = body
        case .shardTransfer(let accepted):
            let body = arena.message(Sightline__V1__ShardTransferResponse.self) { sightline__v1__shard_transfer_response__init($0) }
            body.pointee.accepted = accepted
            message.pointee.body_case = SIGHTLINE__V1__RESPONSE__BODY_SHARD_TRANSFER
            message.pointee.shard_transfer = body
        case .verify(let distance, let same, let approximate):
            let body = arena.message(Sightline__V1__VerifyResponse.self) { sightline__v1__verify_response__init($0) }
            body.pointee.distance = distance
            body.pointee.same = same ? 1 : 0
            body.pointee.approximate = approximate ? 1 : 0
            message.pointee.body_case = SIGHTLINE__V1__RESPONSE__BODY_VERIFY
            message.pointee.verify = body
        case .identify(let reply):
            let body = arena.message(Sightline__V1__IdentifyResponse.self) { sightline__v1__identify_response__init($0) }
            body.pointee.found = reply.found ? 1 : 0
            body.pointee.id = reply.id
            body.pointee.label = reply.label ?? 0
            body.pointee.has_label = reply.label == nil ? 0 : 1
            body.pointee.key = arena.string(reply.key)
            body.pointee.distance = reply.distance
            body.pointee.partial = reply.partial ? 1 : 0
            message.pointee.body_case = SIGHTLINE__V1__RESPONSE__BODY_IDENTIFY
            message.pointee.identify = body
        case .fetchVectors(let fetched):
            let body = arena.message(Sightline__V1__FetchVectorsResponse.self) { sightline__v1__fetch_vectors_response__init($0) }
            body.pointee.dimension = UInt32(clamping: fetched.dimension)
            body.pointee.n_found = fetched.found.count
            body.pointee.found = arena.copy(fetched.found)
            body.pointee.n_vectors = fetched.values.count
            body.pointee.vectors = arena.copy(fetched.values)
            body.pointee.approximate = fetched.approximate ? 1 : 0
            message.pointee.body_case = SIGHTLINE__V1__RESPONSE__BODY_FETCH_VECTORS
            message.pointee.fetch_vectors = body
        case .placementUpdate(let counts):
            let body = arena.message(Sightline__V1__PlacementUpdateResponse.self) { sightline__v1__placement_update_response__init($0) }
            body.pointee.settled = counts.settled
            body.pointee.leaving = counts.leaving
            body.pointee.arriving = counts.arriving
            body.pointee.unowned = counts.unowned
            body.pointee.deleted = counts.deleted
            message.pointee.body_case = SIGHTLINE__V1__RESPONSE__BODY_PLACEMENT_UPDATE
            message.pointee.placement_update = body
        case .shardExport(let page):
            let body = arena.message(Sightline__V1__ShardExportResponse.self) { sightline__v1__shard_export_response__init($0) }
            body.pointee.entries = shardTransferMessage(page.entries, in: arena)
            body.pointee.next_after = page.next ?? 0
            body.pointee.done = page.next == nil ? 1 : 0
            message.pointee.body_case = SIGHTLINE__V1__RESPONSE__BODY_SHARD_EXPORT
            message.pointee.shard_export = body
        case .shardFlow(let reply):
            let body = arena.message(Sightline__V1__ShardFlowResponse.self) { sightline__v1__shard_flow_response__init($0) }
            body.pointee.n_flows = reply.flows.count
            body.pointee.flows = flows(reply.flows)
            body.pointee.n_list_counts = reply.listCounts.count
            body.pointee.list_counts = arena.copy(reply.listCounts)
            body.pointee.n_list_digests = reply.listDigests.count
            body.pointee.list_digests = arena.copy(reply.listDigests)
            body.pointee.dropped = reply.dropped
            message.pointee.body_case = SIGHTLINE__V1__RESPONSE__BODY_SHARD_FLOW
            message.pointee.shard_flow = body
        case .backup(let reply):
            let body = arena.message(Sightline__V1__BackupResponse.self) { sightline__v1__backup_response__init($0) }
            switch reply {
            case .data(let data): body.pointee.data = arena.binary(data)
            case .parts(let parts):
                body.pointee.n_parts = parts.count
                body.pointee.parts = arena.copy(parts.map { part -> UnsafeMutablePointer<Sightline__V1__BackupPart>? in
                    let pointer = arena.message(Sightline__V1__BackupPart.self) { sightline__v1__backup_part__init($0) }
                    pointer.pointee.catalog = part.shard == nil ? 1 : 0
                    pointer.pointee.shard = part.shard ?? 0
                    pointer.pointee.bytes = part.bytes
                    return pointer
                })
            }
            message.pointee.body_case = SIGHTLINE__V1__RESPONSE__BODY_BACKUP
            message.pointee.backup = body
        case .replicaPull(let page):
            let body = arena.message(Sightline__V1__ReplicaPullResponse.self) { sightline__v1__replica_pull_response__init($0) }
            body.pointee.entries = shardTransferMessage(page.entries, in: arena)
            body.pointee.n_absent_ids = page.absentIDs.count
            body.pointee.absent_ids = arena.copy(page.absentIDs)
            body.pointee.up_to_seq = page.upToSeq
            body.pointee.next_after_id = page.nextAfterID ?? 0
            body.pointee.done = page.nextAfterID == nil ? 1 : 0
            body.pointee.n_list_counts = page.listCounts.count
            body.pointee.list_counts = arena.copy(page.listCounts)
            body.pointee.n_list_digests = page.listDigests.count
            body.pointee.list_digests = arena.copy(page.listDigests)
            body.pointee.last_seq = page.lastSeq
            message.pointee.body_case = SIGHTLINE__V1__RESPONSE__BODY_REPLICA_PULL
            message.pointee.replica_pull = body
        case .replicaApply(let lastSeq):
            let body = arena.message(Sightline__V1__ReplicaApplyResponse.self) { sightline__v1__replica_apply_response__init($0) }
            body.pointee.last_seq = lastSeq
            message.pointee.body_case = SIGHTLINE__V1__RESPONSE__BODY_REPLICA_APPLY
            message.pointee.replica_apply = body
        case .clusterStatus(let reply):
            message.pointee.body_case = SIGHTLINE__V1__RESPONSE__BODY_CLUSTER_STATUS
            message.pointee.cluster_status = clusterStatus(reply)
        case .clusterChange(let reply):
            message.pointee.body_case = SIGHTLINE__V1__RESPONSE__BODY_CLUSTER_CHANGE
            message.pointee.cluster_change = clusterStatus(reply)
        }
        let size = sightline__v1__response__get_packed_size(message)
        var output = [UInt8](repeating: 0, count: size)
        output.withUnsafeMutableBufferPointer { _ = sightline__v1__response__pack(message, $0.baseAddress!) }
        return output
    }

    /// Parses a reply frame, with the same memory budget as a request plus
    /// `FrameLimits.replyBytesPerList` for each of `expectedLists` (the queries the caller sent).
    public static func decodeResponse(_ frame: [UInt8], limit: Int = FrameLimits.maxReplyBytes,
                                      expectedLists: Int = 0) throws(WireError) -> Response {
        let extra = min(expectedLists, limit) * FrameLimits.replyBytesPerList
        guard frame.count <= limit else { throw .oversized(bytes: frame.count, limit: limit) }
        let decoded = frame.withUnsafeBytes { buffer in
            Result { () throws(WireError) in
                try unpackWithinBudget(buffer, what: "Response", extraBudget: extra, unpack: sightline__v1__response__unpack,
                                       free: sightline__v1__response__free_unpacked) { m throws(WireError) in try response(from: m) }
            }
        }
        return try decoded.get()
    }

    /// The Swift response for an unpacked message.
    private static func response(from m: Sightline__V1__Response) throws(WireError) -> Response {
        func neighbors(_ pointer: UnsafeMutablePointer<Sightline__V1__Neighbors>?) -> NeighborList {
            guard let n = pointer?.pointee else { return NeighborList(ids: [], distances: []) }
            return NeighborList(ids: array(n.ids, n.n_ids), distances: array(n.distances, n.n_distances))
        }
        func shardStats(_ pointer: UnsafeMutablePointer<UnsafeMutablePointer<Sightline__V1__ShardStats>?>?,
                        _ count: Int) -> [ShardStatsReply] {
            array(pointer, count).compactMap { entry in
                guard let s = entry?.pointee else { return nil }
                var reply = ShardStatsReply()
                reply.shard = s.shard
                reply.vectorCount = s.vector_count
                reply.listSizes = array(s.list_sizes, s.n_list_sizes)
                reply.memoryBytes = s.memory_bytes
                reply.queriesServed = s.queries_served
                reply.latencyP50Milliseconds = s.latency_p50_ms
                reply.latencyP95Milliseconds = s.latency_p95_ms
                reply.latencyP99Milliseconds = s.latency_p99_ms
                reply.codebookVersion = s.codebook_version
                reply.url = string(s.url)
                reply.reachable = s.reachable != 0
                return reply
            }
        }
        func flows(_ pointer: UnsafeMutablePointer<UnsafeMutablePointer<Sightline__V1__Flow>?>?, _ count: Int) -> [Flow] {
            array(pointer, count).compactMap { entry in
                guard let f = entry?.pointee else { return nil }
                return Flow(from: f.from_shard, to: f.to_shard, count: f.count)
            }
        }
        func clusterStatus(_ s: Sightline__V1__ClusterStatus) -> ClusterStatusReply {
            let shards = array(s.shards, s.n_shards).compactMap { entry -> ShardEntry? in
                guard let e = entry?.pointee else { return nil }
                return ShardEntry(shard: e.shard, url: string(e.url), host: string(e.host), state: string(e.state),
                                  vectorCount: e.vector_count, reachable: e.reachable != 0, replicaState: string(e.replica_state))
            }
            // An absent move (NULL) is "no move was ever made".
            let move = s.move.map { pointer in
                let step = pointer.pointee
                return MoveStatus(kind: string(step.kind), shard: step.shard, fromVersion: step.from_version, toVersion: step.to_version,
                                  step: string(step.step), copied: step.copied, total: step.total, error: string(step.error))
            }
            return ClusterStatusReply(mapVersion: s.map_version, shards: shards, move: move, plan: flows(s.plan, s.n_plan),
                                      warning: string(s.warning))
        }

        let body: ResponseBody
        switch m.body_case {
        case SIGHTLINE__V1__RESPONSE__BODY_ERROR:
            let b = m.error.pointee
            body = .error(ErrorReply(ErrorCode(rawValue: b.code.rawValue) ?? .unspecified, string(b.message),
                                     committedIDs: array(b.committed_ids, b.n_committed_ids)))
        case SIGHTLINE__V1__RESPONSE__BODY_SEARCH:
            let b = m.search.pointee
            body = .search(SearchReply(results: [neighbors(b.neighbors)], partial: b.partial != 0,
                                       missingShards: array(b.missing_shards, b.n_missing_shards)))
        case SIGHTLINE__V1__RESPONSE__BODY_SEARCH_BATCH:
            let b = m.search_batch.pointee
            body = .searchBatch(SearchReply(results: array(b.results, b.n_results).map { neighbors($0) }, partial: b.partial != 0,
                                            missingShards: array(b.missing_shards, b.n_missing_shards)))
        case SIGHTLINE__V1__RESPONSE__BODY_ADD:
            body = .add(added: m.add.pointee.added, ignored: m.add.pointee.ignored,
                        ignoredIDs: array(m.add.pointee.ignored_ids, m.add.pointee.n_ignored_ids))
        case SIGHTLINE__V1__RESPONSE__BODY_DELETE:
            body = .delete(deleted: m.delete_.pointee.deleted)
        case SIGHTLINE__V1__RESPONSE__BODY_STATS:
            let b = m.stats.pointee
            body = .stats(shards: shardStats(b.shards, b.n_shards), totalVectors: b.total_vectors)
        case SIGHTLINE__V1__RESPONSE__BODY_HEALTH:
            let b = m.health.pointee
            body = .health(HealthReply(cluster: string(b.cluster), shard: b.shard, codebookVersion: b.codebook_version,
                                       vectorCount: b.vector_count, state: string(b.state), shards: shardStats(b.shards, b.n_shards),
                                       mapVersion: b.map_version, pendingMapVersion: b.pending_map_version,
                                       unownedCount: b.unowned_count, lastSeq: b.last_seq))
        case SIGHTLINE__V1__RESPONSE__BODY_CODEBOOK_PUSH:
            body = .codebookPush(version: m.codebook_push.pointee.version)
        case SIGHTLINE__V1__RESPONSE__BODY_CODEBOOK_FETCH:
            body = .codebookFetch(version: m.codebook_fetch.pointee.version, indexFile: bytes(m.codebook_fetch.pointee.index_file))
        case SIGHTLINE__V1__RESPONSE__BODY_SHARD_TRANSFER:
            body = .shardTransfer(accepted: m.shard_transfer.pointee.accepted)
        case SIGHTLINE__V1__RESPONSE__BODY_VERIFY:
            let b = m.verify.pointee
            body = .verify(distance: b.distance, same: b.same != 0, approximate: b.approximate != 0)
        case SIGHTLINE__V1__RESPONSE__BODY_IDENTIFY:
            let b = m.identify.pointee
            body = .identify(IdentifyReply(found: b.found != 0, id: b.id, label: b.has_label != 0 ? b.label : nil, key: string(b.key),
                                           distance: b.distance, partial: b.partial != 0))
        case SIGHTLINE__V1__RESPONSE__BODY_FETCH_VECTORS:
            let b = m.fetch_vectors.pointee
            body = .fetchVectors(FetchedVectors(dimension: Int(b.dimension), found: array(b.found, b.n_found),
                                                values: array(b.vectors, b.n_vectors), approximate: b.approximate != 0))
        case SIGHTLINE__V1__RESPONSE__BODY_PLACEMENT_UPDATE:
            let b = m.placement_update.pointee
            body = .placementUpdate(PlacementCounts(settled: b.settled, leaving: b.leaving, arriving: b.arriving, unowned: b.unowned,
                                                    deleted: b.deleted))
        case SIGHTLINE__V1__RESPONSE__BODY_SHARD_EXPORT:
            let b = m.shard_export.pointee
            // An empty page still carries an (empty) entries message; none at all is a broken peer.
            guard let entries = b.entries else { throw .missingField("the entries of a shard export page") }
            body = .shardExport(ExportPage(entries: shardTransfer(from: entries.pointee), next: b.done != 0 ? nil : b.next_after))
        case SIGHTLINE__V1__RESPONSE__BODY_SHARD_FLOW:
            let b = m.shard_flow.pointee
            body = .shardFlow(FlowReply(flows: flows(b.flows, b.n_flows), listCounts: array(b.list_counts, b.n_list_counts),
                                        listDigests: array(b.list_digests, b.n_list_digests), dropped: b.dropped))
        case SIGHTLINE__V1__RESPONSE__BODY_BACKUP:
            let b = m.backup.pointee
            if b.n_parts > 0 {
                body = .backup(.parts(array(b.parts, b.n_parts).compactMap { $0 }.map {
                    BackupPart(shard: $0.pointee.catalog != 0 ? nil : $0.pointee.shard, bytes: $0.pointee.bytes)
                }))
            } else {
                body = .backup(.data(bytes(b.data)))
            }
        case SIGHTLINE__V1__RESPONSE__BODY_REPLICA_PULL:
            let b = m.replica_pull.pointee
            guard let entries = b.entries else { throw .missingField("the entries of a replica page") }
            body = .replicaPull(ReplicaPage(entries: shardTransfer(from: entries.pointee), absentIDs: array(b.absent_ids, b.n_absent_ids),
                                            upToSeq: b.up_to_seq, nextAfterID: b.done != 0 ? nil : b.next_after_id,
                                            listCounts: array(b.list_counts, b.n_list_counts),
                                            listDigests: array(b.list_digests, b.n_list_digests), lastSeq: b.last_seq))
        case SIGHTLINE__V1__RESPONSE__BODY_REPLICA_APPLY:
            body = .replicaApply(lastSeq: m.replica_apply.pointee.last_seq)
        case SIGHTLINE__V1__RESPONSE__BODY_CLUSTER_STATUS:
            body = .clusterStatus(clusterStatus(m.cluster_status.pointee))
        case SIGHTLINE__V1__RESPONSE__BODY_CLUSTER_CHANGE:
            body = .clusterChange(clusterStatus(m.cluster_change.pointee))
        default:
            throw .missingField("a response body")
        }
        return Response(requestID: m.request_id, body: body)
    }
}

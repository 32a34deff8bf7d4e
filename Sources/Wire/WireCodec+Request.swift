import CProtobufC
import CSightlineProto

/// protobuf-c encoding and decoding of `Request` and `Response`.
public enum WireCodec {}

extension WireCodec {
    public static func encode(_ request: Request) -> [UInt8] {
        let arena = CArena()
        let message = arena.message(Sightline__V1__Request.self) { sightline__v1__request__init($0) }
        let envelope = arena.message(Sightline__V1__Envelope.self) { sightline__v1__envelope__init($0) }
        envelope.pointee.protocol_version = request.envelope.protocolVersion
        envelope.pointee.request_id = request.envelope.requestID
        envelope.pointee.token = arena.binary(request.envelope.token)
        envelope.pointee.deadline_ms = request.envelope.deadlineMilliseconds
        envelope.pointee.collection = arena.string(request.envelope.collection)
        if let sequence = request.envelope.sequence {
            envelope.pointee.write_seq = sequence.seq
            envelope.pointee.write_prev_seq = sequence.previous
        }
        message.pointee.envelope = envelope

        func options(_ options: SearchOptions) -> UnsafeMutablePointer<Sightline__V1__SearchOptions> {
            let pointer = arena.message(Sightline__V1__SearchOptions.self) { sightline__v1__search_options__init($0) }
            pointer.pointee.k = UInt32(clamping: options.k)
            pointer.pointee.nprobe = UInt32(clamping: options.nprobe)
            pointer.pointee.refine = UInt32(clamping: options.refine)
            pointer.pointee.map_version = options.mapVersion
            pointer.pointee.n_probe_lists = options.probeLists.count
            pointer.pointee.probe_lists = arena.copy(options.probeLists)
            pointer.pointee.n_probe_terms = options.probeTerms.count
            pointer.pointee.probe_terms = arena.copy(options.probeTerms)
            pointer.pointee.queries_apart = options.queriesApart ? 1 : 0
            pointer.pointee.probe_ratio = options.probeRatio
            return pointer
        }

        switch request.body {
        case .search(let vector, let searchOptions):
            let body = arena.message(Sightline__V1__SearchRequest.self) { sightline__v1__search_request__init($0) }
            body.pointee.n_vector = vector.count
            body.pointee.vector = arena.copy(vector)
            body.pointee.options = options(searchOptions)
            message.pointee.body_case = SIGHTLINE__V1__REQUEST__BODY_SEARCH
            message.pointee.search = body
        case .searchBatch(let batch, let searchOptions):
            let body = arena.message(Sightline__V1__SearchBatchRequest.self) { sightline__v1__search_batch_request__init($0) }
            body.pointee.dimension = UInt32(clamping: batch.dimension)
            body.pointee.n_vectors = batch.values.count
            body.pointee.vectors = arena.copy(batch.values)
            body.pointee.options = options(searchOptions)
            message.pointee.body_case = SIGHTLINE__V1__REQUEST__BODY_SEARCH_BATCH
            message.pointee.search_batch = body
        case .add(let batch):
            let body = arena.message(Sightline__V1__AddRequest.self) { sightline__v1__add_request__init($0) }
            body.pointee.dimension = UInt32(clamping: batch.vectors.dimension)
            body.pointee.n_ids = batch.ids.count
            body.pointee.ids = arena.copy(batch.ids)
            body.pointee.n_vectors = batch.vectors.values.count
            body.pointee.vectors = arena.copy(batch.vectors.values)
            body.pointee.n_labels = batch.labels.count
            body.pointee.labels = arena.copy(batch.labels)
            body.pointee.n_keys = batch.keys.count
            body.pointee.keys = arena.copy(batch.keys.map { arena.string($0) as UnsafeMutablePointer<CChar>? })
            body.pointee.codebook_version = batch.codebookVersion
            body.pointee.n_thumbnails = batch.thumbnails.count
            body.pointee.thumbnails = arena.copy(batch.thumbnails.map { arena.binary($0) })
            message.pointee.body_case = SIGHTLINE__V1__REQUEST__BODY_ADD
            message.pointee.add = body
        case .delete(let ids):
            let body = arena.message(Sightline__V1__DeleteRequest.self) { sightline__v1__delete_request__init($0) }
            body.pointee.n_ids = ids.count
            body.pointee.ids = arena.copy(ids)
            message.pointee.body_case = SIGHTLINE__V1__REQUEST__BODY_DELETE
            message.pointee.delete_ = body
        case .stats:
            message.pointee.body_case = SIGHTLINE__V1__REQUEST__BODY_STATS
            message.pointee.stats = arena.message(Sightline__V1__StatsRequest.self) { sightline__v1__stats_request__init($0) }
        case .health:
            message.pointee.body_case = SIGHTLINE__V1__REQUEST__BODY_HEALTH
            message.pointee.health = arena.message(Sightline__V1__HealthRequest.self) { sightline__v1__health_request__init($0) }
        case .codebookPush(let version, let indexFile):
            let body = arena.message(Sightline__V1__CodebookPush.self) { sightline__v1__codebook_push__init($0) }
            body.pointee.version = version
            body.pointee.index_file = arena.binary(indexFile)
            message.pointee.body_case = SIGHTLINE__V1__REQUEST__BODY_CODEBOOK_PUSH
            message.pointee.codebook_push = body
        case .codebookFetch:
            message.pointee.body_case = SIGHTLINE__V1__REQUEST__BODY_CODEBOOK_FETCH
            message.pointee.codebook_fetch = arena.message(Sightline__V1__CodebookFetch.self) { sightline__v1__codebook_fetch__init($0) }
        case .shardTransfer(let transfer):
            message.pointee.body_case = SIGHTLINE__V1__REQUEST__BODY_SHARD_TRANSFER
            message.pointee.shard_transfer = shardTransferMessage(transfer, in: arena)
        case .verify(let query):
            let body = arena.message(Sightline__V1__VerifyRequest.self) { sightline__v1__verify_request__init($0) }
            switch query {
            case .vectors(let a, let b, let threshold):
                body.pointee.n_a = a.count
                body.pointee.a = arena.copy(a)
                body.pointee.n_b = b.count
                body.pointee.b = arena.copy(b)
                body.pointee.threshold = threshold
            case .ids(let a, let b, let threshold):
                body.pointee.id_a = a
                body.pointee.id_b = b
                body.pointee.by_id = 1
                body.pointee.threshold = threshold
            }
            message.pointee.body_case = SIGHTLINE__V1__REQUEST__BODY_VERIFY
            message.pointee.verify = body
        case .identify(let vector, let threshold, let nprobe):
            let body = arena.message(Sightline__V1__IdentifyRequest.self) { sightline__v1__identify_request__init($0) }
            body.pointee.n_vector = vector.count
            body.pointee.vector = arena.copy(vector)
            body.pointee.threshold = threshold
            body.pointee.nprobe = UInt32(clamping: nprobe)
            message.pointee.body_case = SIGHTLINE__V1__REQUEST__BODY_IDENTIFY
            message.pointee.identify = body
        case .fetchVectors(let ids):
            let body = arena.message(Sightline__V1__FetchVectorsRequest.self) { sightline__v1__fetch_vectors_request__init($0) }
            body.pointee.n_ids = ids.count
            body.pointee.ids = arena.copy(ids)
            message.pointee.body_case = SIGHTLINE__V1__REQUEST__BODY_FETCH_VECTORS
            message.pointee.fetch_vectors = body
        case .placementUpdate(let placements):
            let body = arena.message(Sightline__V1__PlacementUpdate.self) { sightline__v1__placement_update__init($0) }
            body.pointee.n_placements = placements.count
            body.pointee.placements = arena.copy(placements.map { placement -> UnsafeMutablePointer<Sightline__V1__Placement>? in
                let pointer = arena.message(Sightline__V1__Placement.self) { sightline__v1__placement__init($0) }
                pointer.pointee.version = placement.version
                pointer.pointee.n_shards = placement.shards.count
                pointer.pointee.shards = arena.copy(placement.shards)
                return pointer
            })
            message.pointee.body_case = SIGHTLINE__V1__REQUEST__BODY_PLACEMENT_UPDATE
            message.pointee.placement_update = body
        case .shardExport(let after, let limit):
            let body = arena.message(Sightline__V1__ShardExportRequest.self) { sightline__v1__shard_export_request__init($0) }
            // has_after tells "from the start" apart from "after id 0".
            body.pointee.after_id = after ?? 0
            body.pointee.has_after = after == nil ? 0 : 1
            body.pointee.limit = UInt32(clamping: limit)
            message.pointee.body_case = SIGHTLINE__V1__REQUEST__BODY_SHARD_EXPORT
            message.pointee.shard_export = body
        case .shardFlow(let query):
            let body = arena.message(Sightline__V1__ShardFlowRequest.self) { sightline__v1__shard_flow_request__init($0) }
            body.pointee.action = Sightline__V1__FlowAction(rawValue: query.action.rawValue)
            body.pointee.from_shard = query.fromShard
            body.pointee.to_shard = query.toShard
            message.pointee.body_case = SIGHTLINE__V1__REQUEST__BODY_SHARD_FLOW
            message.pointee.shard_flow = body
        case .backup(let step):
            let body = arena.message(Sightline__V1__BackupRequest.self) { sightline__v1__backup_request__init($0) }
            switch step {
            case .snapshot: body.pointee.action = SIGHTLINE__V1__BACKUP_REQUEST__ACTION__SNAPSHOT
            case .finish: body.pointee.action = SIGHTLINE__V1__BACKUP_REQUEST__ACTION__FINISH
            case .read(let shard, let offset, let length):
                body.pointee.action = SIGHTLINE__V1__BACKUP_REQUEST__ACTION__READ
                body.pointee.catalog = shard == nil ? 1 : 0
                body.pointee.shard = shard ?? 0
                body.pointee.offset = offset
                body.pointee.length = UInt32(clamping: length)
            }
            message.pointee.body_case = SIGHTLINE__V1__REQUEST__BODY_BACKUP
            message.pointee.backup = body
        case .replicaPull(let pull):
            let body = arena.message(Sightline__V1__ReplicaPullRequest.self) { sightline__v1__replica_pull_request__init($0) }
            switch pull {
            case .log(let afterSeq, let limit):
                body.pointee.mode = SIGHTLINE__V1__REPLICA_PULL_REQUEST__MODE__LOG
                body.pointee.after_seq = afterSeq
                body.pointee.limit = UInt32(clamping: limit)
            case .full(let afterID, let limit):
                body.pointee.mode = SIGHTLINE__V1__REPLICA_PULL_REQUEST__MODE__FULL
                body.pointee.has_after_id = afterID == nil ? 0 : 1
                body.pointee.after_id = afterID ?? 0
                body.pointee.limit = UInt32(clamping: limit)
            case .digest:
                body.pointee.mode = SIGHTLINE__V1__REPLICA_PULL_REQUEST__MODE__DIGEST
            }
            message.pointee.body_case = SIGHTLINE__V1__REQUEST__BODY_REPLICA_PULL
            message.pointee.replica_pull = body
        case .replicaApply(let apply):
            let body = arena.message(Sightline__V1__ReplicaApplyRequest.self) { sightline__v1__replica_apply_request__init($0) }
            body.pointee.entries = shardTransferMessage(apply.entries, in: arena)
            body.pointee.n_absent_ids = apply.absentIDs.count
            body.pointee.absent_ids = arena.copy(apply.absentIDs)
            body.pointee.up_to_seq = apply.upToSeq
            body.pointee.reset = apply.reset ? 1 : 0
            message.pointee.body_case = SIGHTLINE__V1__REQUEST__BODY_REPLICA_APPLY
            message.pointee.replica_apply = body
        case .clusterStatus:
            message.pointee.body_case = SIGHTLINE__V1__REQUEST__BODY_CLUSTER_STATUS
            message.pointee.cluster_status = arena.message(Sightline__V1__ClusterStatusRequest.self) {
                sightline__v1__cluster_status_request__init($0)
            }
        case .clusterChange(let request):
            let body = arena.message(Sightline__V1__ClusterChangeRequest.self) { sightline__v1__cluster_change_request__init($0) }
            func setWorkers(_ urls: [String], _ hosts: [String]) {
                body.pointee.n_urls = urls.count
                body.pointee.urls = arena.copy(urls.map { arena.string($0) as UnsafeMutablePointer<CChar>? })
                body.pointee.n_hosts = hosts.count
                body.pointee.hosts = arena.copy(hosts.map { arena.string($0) as UnsafeMutablePointer<CChar>? })
            }
            switch request.change {
            case .addReplica(let url, let host, let shard, let replacing):
                body.pointee.kind = SIGHTLINE__V1__CLUSTER_CHANGE_REQUEST__KIND__ADD_REPLICA
                body.pointee.url = arena.string(url)
                body.pointee.host = arena.string(host)
                body.pointee.shard = shard
                body.pointee.replace_url = arena.string(replacing)
            case .addWorker(let url, let host):
                body.pointee.kind = SIGHTLINE__V1__CLUSTER_CHANGE_REQUEST__KIND__ADD_WORKER
                body.pointee.url = arena.string(url)
                body.pointee.host = arena.string(host)
            case .removeWorker(let shard):
                body.pointee.kind = SIGHTLINE__V1__CLUSTER_CHANGE_REQUEST__KIND__REMOVE_WORKER
                body.pointee.shard = shard
            case .rebalance:
                body.pointee.kind = SIGHTLINE__V1__CLUSTER_CHANGE_REQUEST__KIND__REBALANCE
            case .abortMove:
                body.pointee.kind = SIGHTLINE__V1__CLUSTER_CHANGE_REQUEST__KIND__ABORT_MOVE
            case .addShard(let urls, let hosts):
                body.pointee.kind = SIGHTLINE__V1__CLUSTER_CHANGE_REQUEST__KIND__ADD_SHARD
                setWorkers(urls, hosts)
            case .removeReplica(let shard, let url):
                body.pointee.kind = SIGHTLINE__V1__CLUSTER_CHANGE_REQUEST__KIND__REMOVE_REPLICA
                body.pointee.shard = shard
                body.pointee.url = arena.string(url)
            case .setReplication(let replication, let urls, let hosts):
                body.pointee.kind = SIGHTLINE__V1__CLUSTER_CHANGE_REQUEST__KIND__SET_REPLICATION
                body.pointee.replication = replication
                setWorkers(urls, hosts)
            case .drainHost(let host, let urls, let hosts):
                body.pointee.kind = SIGHTLINE__V1__CLUSTER_CHANGE_REQUEST__KIND__DRAIN_HOST
                body.pointee.host = arena.string(host)
                setWorkers(urls, hosts)
            }
            body.pointee.dry_run = request.dryRun ? 1 : 0
            body.pointee.rate = request.rate
            message.pointee.body_case = SIGHTLINE__V1__REQUEST__BODY_CLUSTER_CHANGE
            message.pointee.cluster_change = body
        }
        let size = sightline__v1__request__get_packed_size(message)
        var output = [UInt8](repeating: 0, count: size)
        output.withUnsafeMutableBufferPointer { _ = sightline__v1__request__pack(message, $0.baseAddress!) }
        return output
    }

    /// The envelope of a request frame, read without unpacking the body (it must be the frame's
    /// first field; see `EnvelopePrefix`), with its protocol version checked. This is all a
    /// server reads before it has checked the token.
    public static func decodeEnvelope(_ frame: [UInt8]) throws(WireError) -> Envelope {
        let decoded = frame.withUnsafeBytes { buffer in Result { () throws(WireError) in try decodeEnvelope(buffer) } }
        return try decoded.get()
    }

    /// `decodeEnvelope` on bytes lent by the transport.
    public static func decodeEnvelope(_ frame: UnsafeRawBufferPointer) throws(WireError) -> Envelope {
        let buffer = frame.bindMemory(to: UInt8.self)
        guard !buffer.isEmpty, let base = buffer.baseAddress else { throw .missingField("an envelope") }
        let range = try EnvelopePrefix.locate(in: buffer)
        guard let unpacked = sightline__v1__envelope__unpack(nil, range.count, base + range.lowerBound) else {
            throw .malformed("the envelope is not an Envelope message")
        }
        defer { sightline__v1__envelope__free_unpacked(unpacked, nil) }
        let e = unpacked.pointee
        let envelope = Envelope(requestID: e.request_id, tokenBytes: bytes(e.token), deadlineMilliseconds: e.deadline_ms,
                                collection: string(e.collection), protocolVersion: e.protocol_version,
                                sequence: e.write_seq == 0 ? nil : WriteSequence(seq: e.write_seq, previous: e.write_prev_seq))
        guard envelope.protocolVersion == wireProtocolVersion else {
            throw .unsupportedVersion(got: envelope.protocolVersion, supported: wireProtocolVersion)
        }
        return envelope
    }

    /// Parses a request frame. Garbage, truncated frames, frames above the limit and frames
    /// whose unpacking would take more memory than `AllocationBudget` allows throw.
    public static func decodeRequest(_ frame: [UInt8], limit: Int = FrameLimits.maxFrameBytes) throws(WireError) -> Request {
        let decoded = frame.withUnsafeBytes { buffer in Result { () throws(WireError) in try decodeRequest(buffer, limit: limit) } }
        return try decoded.get()
    }

    /// The field number of the frame's body (`RequestBody.fieldNumber`), read without unpacking it.
    public static func bodyFieldNumber(_ frame: UnsafeRawBufferPointer) throws(WireError) -> UInt64? {
        try EnvelopePrefix.bodyField(in: frame.bindMemory(to: UInt8.self))
    }

    /// `decodeRequest` on bytes lent by the transport.
    public static func decodeRequest(_ frame: UnsafeRawBufferPointer, limit: Int = FrameLimits.maxFrameBytes) throws(WireError) -> Request {
        guard frame.count <= limit else { throw .oversized(bytes: frame.count, limit: limit) }
        let envelope = try decodeEnvelope(frame)
        _ = try bodyFieldNumber(frame)  // refuses repeated top-level fields and second bodies
        return try decodeRequest(frame, envelope: envelope)
    }

    /// The rest of a frame whose envelope a server has already read and admitted (the envelope
    /// is not read twice).
    public static func decodeRequest(_ frame: UnsafeRawBufferPointer, envelope: Envelope) throws(WireError) -> Request {
        try unpackWithinBudget(frame, what: "Request", unpack: sightline__v1__request__unpack,
                               free: sightline__v1__request__free_unpacked) { m throws(WireError) in
            try request(from: m, envelope: envelope)
        }
    }

    /// The Swift request for an unpacked message whose envelope was already read.
    private static func request(from m: Sightline__V1__Request, envelope: Envelope) throws(WireError) -> Request {
        func options(_ pointer: UnsafeMutablePointer<Sightline__V1__SearchOptions>?) throws(WireError) -> SearchOptions {
            guard let pointer else { throw .missingField("search options (k, nprobe)") }
            let o = pointer.pointee
            return SearchOptions(k: Int(o.k), nprobe: Int(o.nprobe), refine: Int(o.refine), mapVersion: o.map_version,
                                 probeLists: array(o.probe_lists, o.n_probe_lists), probeTerms: array(o.probe_terms, o.n_probe_terms),
                                 queriesApart: o.queries_apart != 0, probeRatio: o.probe_ratio)
        }
        let body: RequestBody
        switch m.body_case {
        case SIGHTLINE__V1__REQUEST__BODY_SEARCH:
            let b = m.search.pointee
            body = .search(vector: array(b.vector, b.n_vector), options: try options(b.options))
        case SIGHTLINE__V1__REQUEST__BODY_SEARCH_BATCH:
            let b = m.search_batch.pointee
            body = .searchBatch(VectorBatch(dimension: Int(b.dimension), values: array(b.vectors, b.n_vectors)),
                                options: try options(b.options))
        case SIGHTLINE__V1__REQUEST__BODY_ADD:
            let b = m.add.pointee
            let keys = array(b.keys, b.n_keys).map { string($0) }
            body = .add(AddBatch(ids: array(b.ids, b.n_ids),
                                 vectors: VectorBatch(dimension: Int(b.dimension), values: array(b.vectors, b.n_vectors)),
                                 labels: array(b.labels, b.n_labels), keys: keys, codebookVersion: b.codebook_version,
                                 thumbnails: array(b.thumbnails, b.n_thumbnails).map { bytes($0) }))
        case SIGHTLINE__V1__REQUEST__BODY_DELETE:
            let b = m.delete_.pointee
            body = .delete(ids: array(b.ids, b.n_ids))
        case SIGHTLINE__V1__REQUEST__BODY_STATS:
            body = .stats
        case SIGHTLINE__V1__REQUEST__BODY_HEALTH:
            body = .health
        case SIGHTLINE__V1__REQUEST__BODY_CODEBOOK_PUSH:
            let b = m.codebook_push.pointee
            body = .codebookPush(version: b.version, indexFile: bytes(b.index_file))
        case SIGHTLINE__V1__REQUEST__BODY_CODEBOOK_FETCH:
            body = .codebookFetch
        case SIGHTLINE__V1__REQUEST__BODY_SHARD_TRANSFER:
            body = .shardTransfer(shardTransfer(from: m.shard_transfer.pointee))
        case SIGHTLINE__V1__REQUEST__BODY_VERIFY:
            let b = m.verify.pointee
            body = .verify(b.by_id != 0 ? .ids(a: b.id_a, b: b.id_b, threshold: b.threshold)
                                        : .vectors(a: array(b.a, b.n_a), b: array(b.b, b.n_b), threshold: b.threshold))
        case SIGHTLINE__V1__REQUEST__BODY_IDENTIFY:
            let b = m.identify.pointee
            body = .identify(vector: array(b.vector, b.n_vector), threshold: b.threshold, nprobe: Int(b.nprobe))
        case SIGHTLINE__V1__REQUEST__BODY_FETCH_VECTORS:
            let b = m.fetch_vectors.pointee
            body = .fetchVectors(ids: array(b.ids, b.n_ids))
        case SIGHTLINE__V1__REQUEST__BODY_PLACEMENT_UPDATE:
            let b = m.placement_update.pointee
            body = .placementUpdate(array(b.placements, b.n_placements).compactMap { entry in
                guard let p = entry?.pointee else { return nil }
                return Placement(version: p.version, shards: array(p.shards, p.n_shards))
            })
        case SIGHTLINE__V1__REQUEST__BODY_SHARD_EXPORT:
            let b = m.shard_export.pointee
            body = .shardExport(after: b.has_after != 0 ? b.after_id : nil, limit: Int(b.limit))
        case SIGHTLINE__V1__REQUEST__BODY_SHARD_FLOW:
            let b = m.shard_flow.pointee
            // proto3 enums are open: protobuf-c keeps any number the peer sent.
            guard let action = FlowAction(rawValue: b.action.rawValue) else {
                if b.action == SIGHTLINE__V1__FLOW_ACTION__FLOW_ACTION_UNSPECIFIED {
                    throw .missingField("a shard flow action (INVENTORY, DIGEST or DROP)")
                }
                throw .malformed("unknown shard flow action \(b.action.rawValue)")
            }
            body = .shardFlow(FlowQuery(action: action, fromShard: b.from_shard, toShard: b.to_shard))
        case SIGHTLINE__V1__REQUEST__BODY_BACKUP:
            let b = m.backup.pointee
            switch b.action {
            case SIGHTLINE__V1__BACKUP_REQUEST__ACTION__SNAPSHOT: body = .backup(.snapshot)
            case SIGHTLINE__V1__BACKUP_REQUEST__ACTION__FINISH: body = .backup(.finish)
            case SIGHTLINE__V1__BACKUP_REQUEST__ACTION__READ:
                guard (1 ... UInt32(BackupStep.maxPiece)).contains(b.length) else {
                    throw .malformed("a backup read asks for 1…\(BackupStep.maxPiece) bytes, not \(b.length)")
                }
                body = .backup(.read(shard: b.catalog != 0 ? nil : b.shard, offset: b.offset, length: Int(b.length)))
            default: throw .malformed("unknown backup action \(b.action.rawValue)")
            }
        case SIGHTLINE__V1__REQUEST__BODY_REPLICA_PULL:
            let b = m.replica_pull.pointee
            let limit = Int(b.limit)
            switch b.mode {
            case SIGHTLINE__V1__REPLICA_PULL_REQUEST__MODE__DIGEST: body = .replicaPull(.digest)
            case SIGHTLINE__V1__REPLICA_PULL_REQUEST__MODE__LOG, SIGHTLINE__V1__REPLICA_PULL_REQUEST__MODE__FULL:
                guard (1 ... ReplicaPull.maxPage).contains(limit) else {
                    throw .malformed("a replica page holds 1…\(ReplicaPull.maxPage) entries, not \(limit)")
                }
                body = .replicaPull(b.mode == SIGHTLINE__V1__REPLICA_PULL_REQUEST__MODE__LOG
                    ? .log(afterSeq: b.after_seq, limit: limit) : .full(afterID: b.has_after_id != 0 ? b.after_id : nil, limit: limit))
            default: throw .malformed("unknown replica pull mode \(b.mode.rawValue)")
            }
        case SIGHTLINE__V1__REQUEST__BODY_REPLICA_APPLY:
            let b = m.replica_apply.pointee
            guard let entries = b.entries else { throw .missingField("the entries of a replica apply") }
            body = .replicaApply(ReplicaApply(entries: shardTransfer(from: entries.pointee), absentIDs: array(b.absent_ids, b.n_absent_ids),
                                              upToSeq: b.up_to_seq, reset: b.reset != 0))
        case SIGHTLINE__V1__REQUEST__BODY_CLUSTER_STATUS:
            body = .clusterStatus
        case SIGHTLINE__V1__REQUEST__BODY_CLUSTER_CHANGE:
            let b = m.cluster_change.pointee
            let change: ClusterChange
            switch b.kind {
            case SIGHTLINE__V1__CLUSTER_CHANGE_REQUEST__KIND__ADD_WORKER: change = .addWorker(url: string(b.url), host: string(b.host))
            case SIGHTLINE__V1__CLUSTER_CHANGE_REQUEST__KIND__ADD_REPLICA:
                change = .addReplica(url: string(b.url), host: string(b.host), shard: b.shard, replacing: string(b.replace_url))
            case SIGHTLINE__V1__CLUSTER_CHANGE_REQUEST__KIND__REMOVE_WORKER: change = .removeWorker(shard: b.shard)
            case SIGHTLINE__V1__CLUSTER_CHANGE_REQUEST__KIND__REBALANCE: change = .rebalance
            case SIGHTLINE__V1__CLUSTER_CHANGE_REQUEST__KIND__ABORT_MOVE: change = .abortMove
            case SIGHTLINE__V1__CLUSTER_CHANGE_REQUEST__KIND__REMOVE_REPLICA: change = .removeReplica(shard: b.shard, url: string(b.url))
            case SIGHTLINE__V1__CLUSTER_CHANGE_REQUEST__KIND__ADD_SHARD, SIGHTLINE__V1__CLUSTER_CHANGE_REQUEST__KIND__SET_REPLICATION,
                 SIGHTLINE__V1__CLUSTER_CHANGE_REQUEST__KIND__DRAIN_HOST:
                // Bounded before anything is read from them: a peer names at most `maxURLs` workers.
                guard b.n_urls <= ClusterChange.maxURLs, b.n_hosts <= ClusterChange.maxURLs else {
                    throw .malformed("a cluster change names \(b.n_urls) workers and \(b.n_hosts) hosts; at most "
                                     + "\(ClusterChange.maxURLs) each")
                }
                let urls = array(b.urls, b.n_urls).map { string($0) }, hosts = array(b.hosts, b.n_hosts).map { string($0) }
                switch b.kind {
                case SIGHTLINE__V1__CLUSTER_CHANGE_REQUEST__KIND__ADD_SHARD: change = .addShard(urls: urls, hosts: hosts)
                case SIGHTLINE__V1__CLUSTER_CHANGE_REQUEST__KIND__SET_REPLICATION:
                    change = .setReplication(replication: b.replication, urls: urls, hosts: hosts)
                default: change = .drainHost(host: string(b.host), urls: urls, hosts: hosts)
                }
            case SIGHTLINE__V1__CLUSTER_CHANGE_REQUEST__KIND__KIND_UNSPECIFIED:
                throw .missingField("a cluster change kind (ADD_WORKER, REMOVE_WORKER, REBALANCE, ADD_REPLICA, ABORT_MOVE, "
                                    + "ADD_SHARD, REMOVE_REPLICA, SET_REPLICATION or DRAIN_HOST)")
            default:
                throw .malformed("unknown cluster change kind \(b.kind.rawValue)")
            }
            body = .clusterChange(ClusterChangeRequest(change: change, dryRun: b.dry_run != 0, rate: b.rate))
        default:
            throw .missingField("a body (search, add, …)")
        }
        return Request(envelope: envelope, body: body)
    }

    /// A shard transfer's message; a shard export reply carries one too.
    static func shardTransferMessage(_ transfer: ShardTransfer, in arena: CArena)
        -> UnsafeMutablePointer<Sightline__V1__ShardTransferRequest> {
        let body = arena.message(Sightline__V1__ShardTransferRequest.self) { sightline__v1__shard_transfer_request__init($0) }
        body.pointee.codebook_version = transfer.codebookVersion
        body.pointee.n_ids = transfer.ids.count
        body.pointee.ids = arena.copy(transfer.ids)
        body.pointee.n_lists = transfer.lists.count
        body.pointee.lists = arena.copy(transfer.lists)
        body.pointee.codes = arena.binary(transfer.codes)
        body.pointee.n_labels = transfer.labels.count
        body.pointee.labels = arena.copy(transfer.labels)
        body.pointee.n_labeled = transfer.labeled.count
        body.pointee.labeled = arena.copy(transfer.labeled.map { protobuf_c_boolean($0 ? 1 : 0) })
        body.pointee.n_keys = transfer.keys.count
        body.pointee.keys = arena.copy(transfer.keys.map { arena.string($0) as UnsafeMutablePointer<CChar>? })
        body.pointee.n_vectors = transfer.vectors.count
        body.pointee.vectors = arena.copy(transfer.vectors)
        return body
    }

    /// The Swift form of an unpacked shard transfer (lengths are checked by the receiver).
    static func shardTransfer(from b: Sightline__V1__ShardTransferRequest) -> ShardTransfer {
        ShardTransfer(codebookVersion: b.codebook_version, ids: array(b.ids, b.n_ids), lists: array(b.lists, b.n_lists),
                      codes: bytes(b.codes), labels: array(b.labels, b.n_labels),
                      labeled: array(b.labeled, b.n_labeled).map { $0 != 0 }, keys: array(b.keys, b.n_keys).map { string($0) },
                      vectors: array(b.vectors, b.n_vectors))
    }
}

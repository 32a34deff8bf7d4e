import Foundation
import Testing
@testable import Wire

@Suite struct WireCodecTests {
    static let envelope = Envelope(requestID: 42, token: "secret", deadlineMilliseconds: 1500, collection: "default")
    static let options = SearchOptions(k: 10, nprobe: 8, refine: 2)
    static let routedOptions = SearchOptions(k: 10, nprobe: 8, refine: 0, mapVersion: .max)
    /// A transfer with every optional column filled (labeled, keys, vectors).
    static let fullTransfer = ShardTransfer(codebookVersion: 3, ids: [1, 2, .max], lists: [0, 9, 4], codes: [1, 2, 3, 4, 5, 6],
                                            labels: [1, 0, -7], labeled: [true, false, true], keys: ["a", "", "ü"],
                                            vectors: [0.5, -1, 2, 3, 4, 5])
    static let emptyTransfer = ShardTransfer(codebookVersion: 0, ids: [], lists: [], codes: [])

    static let requests: [RequestBody] = [
        .search(vector: [1, 2.5, -3], options: options),
        .searchBatch(VectorBatch(dimension: 2, values: [1, 2, 3, 4]), options: options),
        .add(AddBatch(ids: [1, UInt64.max], vectors: VectorBatch(dimension: 2, values: [1, 2, 3, 4]), labels: [7, -1],
                      keys: ["a", "ü"], codebookVersion: 99)),
        .add(AddBatch(ids: [5], vectors: VectorBatch(dimension: 1, values: [0.5]))),
        .add(AddBatch(ids: [5, 6], vectors: VectorBatch(dimension: 1, values: [0.5, 1]), thumbnails: [[0x89, 0x50, 0], []])),
        .delete(ids: [3, 4]),
        .stats,
        .health,
        .codebookPush(version: 7, indexFile: [1, 2, 3]),
        .codebookFetch,
        .shardTransfer(ShardTransfer(codebookVersion: 3, ids: [1, 2], lists: [0, 9], codes: [1, 2, 3, 4], labels: [1, 2])),
        .verify(.vectors(a: [1, 2], b: [3, 4], threshold: 0.5)),
        .verify(.ids(a: 10, b: 11, threshold: 2)),
        .identify(vector: [1, 2], threshold: 0.3, nprobe: 4),
        .fetchVectors(ids: [8]),
        .search(vector: [1], options: routedOptions),
        .searchBatch(VectorBatch(dimension: 1, values: [1, 2]), options: routedOptions),
        .searchBatch(VectorBatch(dimension: 1, values: [1, 2]), options: SearchOptions(k: 3, nprobe: 9, probeRatio: 1.75)),
        .shardTransfer(fullTransfer),
        .shardTransfer(emptyTransfer),
        .placementUpdate([Placement(version: 3, shards: [0, 1, 2]), Placement(version: .max, shards: [0, 1, 2, 3])]),
        .placementUpdate([Placement(version: 1, shards: [])]),
        .placementUpdate([]),
        .shardExport(after: nil, limit: 500),
        .shardExport(after: 0, limit: 0),
        .shardExport(after: .max, limit: Int(UInt32.max)),
        .shardFlow(FlowQuery(action: .inventory)),
        .shardFlow(FlowQuery(action: .digest, fromShard: 1, toShard: .max)),
        .shardFlow(FlowQuery(action: .drop, fromShard: 2, toShard: 0)),
        .clusterStatus,
        .backup(.snapshot),
        .backup(.finish),
        .backup(.read(shard: nil, offset: 5, length: 100)),
        .backup(.read(shard: 3, offset: .max, length: BackupStep.maxPiece)),
        .clusterChange(ClusterChangeRequest(change: .addWorker(url: "tcp://10.0.0.5:7001", host: "w5"), dryRun: true, rate: 1000)),
        .clusterChange(ClusterChangeRequest(change: .addWorker(url: "", host: ""))),
        .clusterChange(ClusterChangeRequest(change: .removeWorker(shard: 0), rate: .max)),
        .clusterChange(ClusterChangeRequest(change: .removeWorker(shard: 3), dryRun: true)),
        .clusterChange(ClusterChangeRequest(change: .rebalance)),
        .clusterChange(ClusterChangeRequest(change: .abortMove)),
        .clusterChange(ClusterChangeRequest(change: .addShard(urls: ["tcp://a:1", "tcp://b:2"], hosts: ["ha", "hb"]), rate: 40)),
        .clusterChange(ClusterChangeRequest(change: .addShard(urls: ["tcp://a:1"], hosts: []), dryRun: true)),
        .clusterChange(ClusterChangeRequest(change: .removeReplica(shard: 7, url: "tcp://c:3"))),
        .clusterChange(ClusterChangeRequest(change: .setReplication(replication: 3, urls: ["tcp://d:4"], hosts: ["hd"]))),
        .clusterChange(ClusterChangeRequest(change: .setReplication(replication: 1, urls: [], hosts: []), dryRun: true)),
        .clusterChange(ClusterChangeRequest(change: .drainHost(host: "h0", urls: ["tcp://e:5", "tcp://f:6"], hosts: []))),
    ]

    /// A peer names at most `ClusterChange.maxURLs` workers: a longer list is refused before it is used.
    @Test func aClusterChangeNamingTooManyWorkersIsRefused() throws {
        let urls = (0 ... ClusterChange.maxURLs).map { "tcp://10.0.0.1:\($0)" }
        let frame = WireCodec.encode(Request(envelope: Self.envelope, body: .clusterChange(
            ClusterChangeRequest(change: .setReplication(replication: 2, urls: urls, hosts: [])))))
        #expect(throws: WireError.self) { try WireCodec.decodeRequest(frame) }
        let fewer = Request(envelope: Self.envelope, body: .clusterChange(
            ClusterChangeRequest(change: .setReplication(replication: 2, urls: Array(urls.dropLast()), hosts: []))))
        #expect(try WireCodec.decodeRequest(WireCodec.encode(fewer)) == fewer)
    }

    @Test(arguments: requests)
    func requestsRoundTrip(body: RequestBody) throws {
        let request = Request(envelope: Self.envelope, body: body)
        #expect(try WireCodec.decodeRequest(WireCodec.encode(request)) == request)
    }

    /// A limit beyond the wire's uint32 is clamped, not trapped on.
    @Test func exportLimitsAreClamped() throws {
        for (limit, expected) in [(Int.max, Int(UInt32.max)), (-5, 0)] {
            let frame = WireCodec.encode(Request(envelope: Self.envelope, body: .shardExport(after: 7, limit: limit)))
            #expect(try WireCodec.decodeRequest(frame).body == .shardExport(after: 7, limit: expected))
        }
    }

    @Test func backupReadsOfNoBytesOrTooManyAreRefused() throws {
        for length in [0, BackupStep.maxPiece + 1, Int.max] {
            let frame = WireCodec.encode(Request(envelope: Self.envelope, body: .backup(.read(shard: 1, offset: 0, length: length))))
            #expect(throws: WireError.self, "length \(length)") { try WireCodec.decodeRequest(frame) }
        }
    }

    static let move = MoveStatus(kind: "add-worker", shard: 3, fromVersion: 4, toVersion: .max, step: "copy", copied: 10, total: 20,
                                 error: "shard 1 unavailable")
    static let shardEntries = [ShardEntry(shard: 0, url: "tcp://a:1", host: "a", state: "active", vectorCount: .max, reachable: true),
                               ShardEntry(shard: 3, url: "tcp://b:1", state: "joining")]
    static let flows = [Flow(from: 0, to: 3, count: 12), Flow(from: .max, to: 0, count: .max)]

    static let responses: [ResponseBody] = {
        var stats = ShardStatsReply()
        stats.shard = 2; stats.vectorCount = 10; stats.listSizes = [3, 7]; stats.memoryBytes = 100; stats.queriesServed = 5
        stats.latencyP50Milliseconds = 0.1; stats.latencyP95Milliseconds = 0.2; stats.latencyP99Milliseconds = 0.3
        stats.codebookVersion = 9; stats.url = "tcp://127.0.0.1:1"; stats.reachable = true
        return [
            .error(ErrorReply(.unauthorized, "wrong token")),
            .search(SearchReply(results: [NeighborList(ids: [1, 2], distances: [0.5, 0.75])], partial: true, missingShards: [1])),
            .searchBatch(SearchReply(results: [NeighborList(ids: [1], distances: [0]), NeighborList(ids: [], distances: [])])),
            .add(added: 3, ignored: 1),
            .add(added: 1, ignored: 2, ignoredIDs: [5, .max]),
            .error(ErrorReply(.unavailable, "shard 1 did not commit", committedIDs: [1, 2, 3])),
            .delete(deleted: 2),
            .stats(shards: [stats], totalVectors: 10),
            .health(HealthReply(cluster: "c", shard: 1, codebookVersion: 5, vectorCount: 6, state: "serving", shards: [stats])),
            .codebookPush(version: 5),
            .codebookFetch(version: 5, indexFile: [9, 8]),
            .shardTransfer(accepted: 4),
            .verify(distance: 0.25, same: true, approximate: true),
            .identify(IdentifyReply(found: true, id: 3, label: 7, key: "k", distance: 0.1, partial: false)),
            .identify(IdentifyReply(found: false, distance: 2)),
            .fetchVectors(FetchedVectors(dimension: 2, found: [1], values: [1, 2], approximate: false)),
            .health(HealthReply(cluster: "c", shard: 2, codebookVersion: 5, vectorCount: 6, state: "serving", mapVersion: 7,
                                pendingMapVersion: .max)),
            .placementUpdate(PlacementCounts(settled: 1, leaving: 2, arriving: 3, unowned: 4, deleted: .max)),
            .placementUpdate(PlacementCounts()),
            .shardExport(ExportPage(entries: fullTransfer, next: .max)),
            .shardExport(ExportPage(entries: fullTransfer, next: 0)),
            .shardExport(ExportPage(entries: emptyTransfer, next: nil)),
            .shardFlow(FlowReply(flows: flows, listCounts: [0, 5, .max], listDigests: [.max, 0, 9], dropped: 4)),
            .shardFlow(FlowReply()),
            .clusterStatus(ClusterStatusReply(mapVersion: 2, shards: shardEntries)),
            .clusterStatus(ClusterStatusReply(mapVersion: .max, shards: shardEntries, move: move, plan: flows, warning: "config differs")),
            .clusterStatus(ClusterStatusReply(mapVersion: 0, shards: [],
                                              move: MoveStatus(kind: "", shard: 0, fromVersion: 0, toVersion: 0, step: ""))),
            .clusterChange(ClusterStatusReply(mapVersion: 2, shards: [], plan: flows)),
            .backup(.parts([BackupPart(shard: nil, bytes: 10), BackupPart(shard: 2, bytes: .max)])),
            .backup(.data([1, 2, 3])),
            .backup(.data([])),
            .clusterChange(ClusterStatusReply(mapVersion: 3, shards: shardEntries, move: move)),
        ]
    }()

    @Test(arguments: responses)
    func responsesRoundTrip(body: ResponseBody) throws {
        let response = Response(requestID: 77, body: body)
        #expect(try WireCodec.decodeResponse(WireCodec.encode(response)) == response)
    }

    @Test func garbageAndTruncatedFramesAreErrors() {
        var generator = SystemRandomNumberGenerator()
        var failures = 0
        for length in [1, 7, 64, 1000] {
            let garbage = (0 ..< length).map { _ in UInt8.random(in: 0 ... 255, using: &generator) }
            do { _ = try WireCodec.decodeRequest(garbage) } catch { failures += 1 }
        }
        // Random bytes can by chance be a valid but empty message: then the envelope is missing.
        #expect(failures == 4)
        let frame = WireCodec.encode(Request(envelope: Self.envelope, body: .search(vector: [1, 2, 3], options: Self.options)))
        for cut in [1, frame.count / 2, frame.count - 1] {
            #expect(throws: WireError.self) { try WireCodec.decodeRequest(Array(frame[0 ..< cut])) }
        }
        #expect(throws: WireError.missingField("an envelope")) { try WireCodec.decodeRequest([]) }
    }

    @Test func oversizedFramesAreRefusedBeforeParsing() {
        let frame = WireCodec.encode(Request(envelope: Self.envelope,
                                             body: .search(vector: [Float](repeating: 1, count: 300), options: Self.options)))
        #expect(throws: WireError.oversized(bytes: frame.count, limit: 1000)) { try WireCodec.decodeRequest(frame, limit: 1000) }
    }

    @Test func otherProtocolVersionsAreRefused() {
        var envelope = Self.envelope
        envelope.protocolVersion = 2
        let frame = WireCodec.encode(Request(envelope: envelope, body: .health))
        #expect(throws: WireError.unsupportedVersion(got: 2, supported: 1)) { try WireCodec.decodeRequest(frame) }
        #expect(throws: WireError.unsupportedVersion(got: 2, supported: 1)) { try WireCodec.decodeEnvelope(frame) }
    }

    @Test func committedGeneratedCodeMatchesTheProtoFile() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let hasCompiler = FileManager.default.isExecutableFile(atPath: "/usr/bin/protoc-c")
        try #require(hasCompiler, "protoc-c is not installed (apt-get install protobuf-c-compiler): cannot check the generated code")
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("sightline-gen-\(getpid())").path
        let process = Process()
        process.executableURL = root.appendingPathComponent("scripts/dev/gen-proto")
        process.arguments = [output]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        for file in ["sightline.pb-c.c", "include/sightline.pb-c.h"] {
            let fresh = try Data(contentsOf: URL(fileURLWithPath: "\(output)/\(file)"))
            let committed = try Data(contentsOf: root.appendingPathComponent("Sources/CSightlineProto/\(file)"))
            #expect(fresh == committed, "\(file) differs from scripts/dev/gen-proto output: run scripts/dev/gen-proto and commit")
        }
        let python = try Data(contentsOf: URL(fileURLWithPath: "\(output)/sightline_pb2.py"))
        let committedPython = try Data(contentsOf: root.appendingPathComponent("clients/python/sightline_client/sightline_pb2.py"))
        #expect(python == committedPython, "the Python client's sightline_pb2.py differs from scripts/dev/gen-proto output")
    }
}

import Foundation
import Testing
@testable import Wire

@Suite struct WireCodecTests {
    static let envelope = Envelope(requestID: 42, token: "secret", deadlineMilliseconds: 1500, collection: "default")
    static let options = SearchOptions(k: 10, nprobe: 8, refine: 2)

    static let requests: [RequestBody] = [
        .search(vector: [1, 2.5, -3], options: options),
        .searchBatch(VectorBatch(dimension: 2, values: [1, 2, 3, 4]), options: options),
        .add(AddBatch(ids: [1, UInt64.max], vectors: VectorBatch(dimension: 2, values: [1, 2, 3, 4]), labels: [7, -1],
                      keys: ["a", "ü"], codebookVersion: 99)),
        .add(AddBatch(ids: [5], vectors: VectorBatch(dimension: 1, values: [0.5]))),
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
    ]

    @Test(arguments: requests)
    func requestsRoundTrip(body: RequestBody) throws {
        let request = Request(envelope: Self.envelope, body: body)
        #expect(try WireCodec.decodeRequest(WireCodec.encode(request)) == request)
    }

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
        process.executableURL = root.appendingPathComponent("scripts/gen-proto")
        process.arguments = [output]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        for file in ["sightline.pb-c.c", "include/sightline.pb-c.h"] {
            let fresh = try Data(contentsOf: URL(fileURLWithPath: "\(output)/\(file)"))
            let committed = try Data(contentsOf: root.appendingPathComponent("Sources/CSightlineProto/\(file)"))
            #expect(fresh == committed, "\(file) differs from scripts/gen-proto output: run scripts/gen-proto and commit")
        }
    }
}

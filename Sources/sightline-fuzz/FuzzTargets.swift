import ClusterModel
import Descriptors
import Foundation
import ServiceSupport
import VectorIndex
import VectorMath
import Wire
import WorkerService

// libFuzzer entry points (built only with SIGHTLINE_FUZZ=1 and -sanitize=fuzzer; see scripts/dev/fuzz).
// SIGHTLINE_FUZZ_TARGET picks what one process fuzzes:
//   request     the request gate every service runs first (envelope, token, role, decode) and the
//               client's reply decoder, on the same bytes
//   worker      a whole worker (gate, then search, add, delete, transfer, codebook push, …) on tmpfs
//   index-file  the index file loader
//   model-file  the descriptor model loader
// SIGHTLINE_FUZZ_SEEDS=DIR writes a seed corpus for the target into DIR first (every request kind,
// and frames that smuggle a second body behind a read token's search). The request targets use a
// structure-aware mutator (LLVMFuzzerCustomMutator below) that duplicates, reorders, drops and
// grafts whole top-level fields; the request target checks that the gate never runs a body its
// token's role may not send.

enum FuzzTarget: String, CaseIterable {
    case request, worker, indexFile = "index-file", modelFile = "model-file"
}

let fuzzToken = "fuzz-token"
nonisolated(unsafe) var selectedTarget = FuzzTarget.request
nonisolated(unsafe) var fuzzWorker: Worker?
let gate = RequestGate(tokens: AccessTokens(cluster: fuzzToken, write: "fuzz-write", read: "fuzz-read"),
                       collection: "", maxFrameBytes: FrameLimits.maxFrameBytes)

/// A small trained index: 16-d, 16 lists, m = 4, with `count` vectors (and their full copies).
func smallIndex(vectors count: Int, storesVectors: Bool) -> IVFPQIndex {
    var generator = SeededGenerator(seed: 3)
    let data = try! Matrix(dimension: 16, values: (0 ..< 16 * 512).map { _ in Float(generator.nextGaussian()) })
    var training = IVFPQTraining()
    training.iterations = 3
    var index = try! IVFPQIndex.train(data, configuration: IVFPQConfiguration(dimension: 16, listCount: 16, subquantizerCount: 4,
                                                                              storesVectors: storesVectors), training: training)
    if count > 0 { try! index.add(data.slice(0 ..< count), ids: (0 ..< count).map { VectorID(UInt64($0)) }) }
    return index
}

/// One request of every kind, as a client would send it.
func seedRequests(token: String) -> [[UInt8]] {
    let options = SearchOptions(k: 5, nprobe: 4, refine: 2)
    let vector = (0 ..< 16).map { Float($0) / 16 }
    let codebooks = IndexFile.encode(smallIndex(vectors: 0, storesVectors: false))
    let bodies: [RequestBody] = [
        .search(vector: vector, options: options),
        .searchBatch(VectorBatch(dimension: 16, values: vector + vector), options: options),
        .add(AddBatch(ids: [900, 901], vectors: VectorBatch(dimension: 16, values: vector + vector), labels: [1, 2], keys: ["a", "b"],
                      codebookVersion: codebookVersion(of: codebooks))),
        .delete(ids: [1, 2, 900]), .stats, .health, .codebookFetch,
        .codebookPush(version: codebookVersion(of: codebooks), indexFile: codebooks),
        .shardTransfer(ShardTransfer(codebookVersion: codebookVersion(of: codebooks), ids: [5000], lists: [3], codes: [1, 2, 3, 4],
                                     labels: [9])),
        .verify(.ids(a: 1, b: 2, threshold: 0.5)), .verify(.vectors(a: vector, b: vector, threshold: 0.5)),
        .identify(vector: vector, threshold: 1, nprobe: 2), .fetchVectors(ids: [1, 2, 3]),
        .placementUpdate([Placement(version: 1, shards: [0]), Placement(version: 2, shards: [0, 1])]),
        .shardExport(after: 7, limit: 100), .shardExport(after: nil, limit: 1),
        .shardFlow(FlowQuery(action: .inventory)), .shardFlow(FlowQuery(action: .digest, fromShard: 0, toShard: 1)),
        .shardFlow(FlowQuery(action: .drop, fromShard: 1, toShard: 0)),
        .shardTransfer(ShardTransfer(codebookVersion: codebookVersion(of: codebooks), ids: [5001, 5002], lists: [3, 4],
                                     codes: [1, 2, 3, 4, 5, 6, 7, 8], labels: [9, 0], labeled: [true, false], keys: ["k", ""])),
        .clusterStatus, .clusterChange(ClusterChangeRequest(change: .rebalance, dryRun: true)),
        .clusterChange(ClusterChangeRequest(change: .removeWorker(shard: 0), dryRun: true, rate: 5)),
        .clusterChange(ClusterChangeRequest(change: .addReplica(url: "tcp://127.0.0.1:1", host: "", shard: 0, replacing: ""),
                                            dryRun: true)),
        .replicaPull(.log(afterSeq: 0, limit: 10)), .replicaPull(.full(afterID: nil, limit: 3)), .replicaPull(.digest),
        .replicaApply(ReplicaApply(entries: ShardTransfer(codebookVersion: codebookVersion(of: codebooks), ids: [6000], lists: [2],
                                                          codes: [4, 3, 2, 1]), absentIDs: [1], upToSeq: 3)),
    ]
    var frames = bodies.enumerated().map { number, body in
        WireCodec.encode(Request(envelope: Envelope(requestID: UInt64(number), token: token, deadlineMilliseconds: 1000), body: body))
    }
    // Numbered writes, as the coordinator sends them to a replicated shard's copies.
    for (number, body) in [bodies[2], bodies[3]].enumerated() {
        frames.append(WireCodec.encode(Request(envelope: Envelope(requestID: 900 + UInt64(number), token: token, deadlineMilliseconds: 1000,
                                                                  sequence: WriteSequence(seq: 1 + UInt64(number),
                                                                                          previous: UInt64(number))),
                                               body: body)))
    }
    return frames
}

/// `frame` without its first field (the envelope): the body part of a frame.
func bodyPart(_ frame: [UInt8]) -> [UInt8] {
    guard let fields = TopLevelFields(frame), let first = fields.ranges.first else { return frame }
    return Array(frame[first.upperBound...])
}

/// Frames that put a second body (or a second envelope) behind an allowed one: a read token's
/// search followed by a delete, a backup or a cluster change, as an attacker would send them.
func smuggledFrames() -> [[UInt8]] {
    let search = WireCodec.encode(Request(envelope: Envelope(requestID: 1, token: "fuzz-read"),
                                          body: .search(vector: [Float](repeating: 0.5, count: 16),
                                                        options: SearchOptions(k: 1, nprobe: 1))))
    let behind: [RequestBody] = [
        .delete(ids: [1, 2]), .backup(.snapshot),
        .clusterChange(ClusterChangeRequest(change: .addReplica(url: "tcp://127.0.0.1:9", host: "", shard: 0, replacing: ""),
                                            dryRun: true)),
    ]
    return behind.flatMap { body -> [[UInt8]] in
        let second = WireCodec.encode(Request(envelope: Envelope(requestID: 2, token: "fuzz-read"), body: body))
        return [search + bodyPart(second), search + second, second + bodyPart(search)]
    }
}

func seeds(for target: FuzzTarget) -> [[UInt8]] {
    switch target {
    case .request, .worker:
        return seedRequests(token: fuzzToken) + seedRequests(token: "fuzz-read") + smuggledFrames()
    case .indexFile:
        return [IndexFile.encode(smallIndex(vectors: 0, storesVectors: false)),
                IndexFile.encode(smallIndex(vectors: 40, storesVectors: true))]
    case .modelFile:
        return [ModelFile.encode(EmbeddingNetwork(shape: NetworkShape(inputSize: 16, hiddenSizes: [8], embeddingSize: 4), seed: 1)),
                ModelFile.encode(EmbeddingNetwork(shape: .convolutional(side: 8, embeddingSize: 4), seed: 2))]
    }
}

/// A worker on tmpfs with the small codebooks and 100 vectors, answering with `fuzzToken`.
func makeWorker() -> Worker {
    let folder = "/dev/shm/sightline-fuzz-\(getpid())"
    try? FileManager.default.removeItem(atPath: folder)
    let worker = try! Worker(settings: WorkerSettings(cluster: "fuzz", shard: ShardID(0), token: fuzzToken, dataDirectory: folder),
                             log: { _ in })
    let codebooks = IndexFile.encode(smallIndex(vectors: 0, storesVectors: false))
    let version = codebookVersion(of: codebooks)
    var generator = SeededGenerator(seed: 8)
    let values = (0 ..< 16 * 100).map { _ in Float(generator.nextGaussian()) }
    for (number, body) in [RequestBody.codebookPush(version: version, indexFile: codebooks),
                           .add(AddBatch(ids: (0 ..< 100).map(UInt64.init), vectors: VectorBatch(dimension: 16, values: values),
                                         codebookVersion: version))].enumerated() {
        _ = worker.handle(WireCodec.encode(Request(envelope: Envelope(requestID: UInt64(number), token: fuzzToken), body: body)))
    }
    return worker
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<Int32>?,
                           _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> Int32 {
    let environment = ProcessInfo.processInfo.environment
    guard let name = environment["SIGHTLINE_FUZZ_TARGET"], let target = FuzzTarget(rawValue: name) else {
        FileHandle.standardError.write(Data("set SIGHTLINE_FUZZ_TARGET to one of \(FuzzTarget.allCases.map(\.rawValue))\n".utf8))
        exit(2)
    }
    selectedTarget = target
    if target == .worker { fuzzWorker = makeWorker() }
    if let folder = environment["SIGHTLINE_FUZZ_SEEDS"] {
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for (number, seed) in seeds(for: target).enumerated() {
            FileManager.default.createFile(atPath: "\(folder)/seed-\(number)", contents: Data(seed))
        }
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    switch selectedTarget {
    case .request:
        _ = gate.handle(bytes) { request in
            // The oracle: whatever the gate lets run, the token that came with it may send.
            guard let role = gate.tokens.role(of: request.envelope.token), role >= request.body.leastRole else {
                fatalError("the gate ran \(request.body.name) for a token whose role may not send it")
            }
            return .health(HealthReply(cluster: "fuzz", shard: 0, codebookVersion: 0, vectorCount: 0, state: request.body.name))
        }
        _ = try? WireCodec.decodeResponse(bytes)
    case .worker:
        _ = fuzzWorker?.handle(bytes)
    case .indexFile:
        _ = try? IndexFile.decode(bytes)
    case .modelFile:
        _ = try? ModelFile.decode(bytes)
    }
    return 0
}

/// The top-level fields of a protobuf frame, as byte ranges (tag included); nil when the bytes
/// are not a sequence of well-formed fields.
struct TopLevelFields {
    var ranges: [Range<Int>] = []

    init?(_ bytes: [UInt8]) {
        var ranges: [Range<Int>] = []
        let walked = bytes.withUnsafeBufferPointer { buffer in
            (try? ProtobufFields.walk(buffer) { _, range in ranges.append(range) }) != nil
        }
        guard walked else { return nil }
        self.ranges = ranges
    }
}

/// libFuzzer's own byte-level mutation, for what the structure-aware one does not do.
@_silgen_name("LLVMFuzzerMutate")
func fuzzerMutate(_ data: UnsafeMutablePointer<UInt8>, _ size: Int, _ maxSize: Int) -> Int

/// A structure-aware mutator for the request targets: half of the time it works on whole
/// top-level fields (duplicates one, moves one, drops one, or grafts a field of a seed frame of
/// another kind: the shapes that smuggle a body behind another), else libFuzzer's byte mutations.
@_cdecl("LLVMFuzzerCustomMutator")
public func fuzzCustomMutator(_ data: UnsafeMutablePointer<UInt8>?, _ size: Int, _ maxSize: Int, _ seed: UInt32) -> Int {
    guard let data else { return 0 }
    var random = SeededGenerator(seed: UInt64(seed))
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard selectedTarget == .request || selectedTarget == .worker, random.next() % 2 == 0,
          let fields = TopLevelFields(bytes), !fields.ranges.isEmpty else {
        return fuzzerMutate(data, size, maxSize)
    }
    var parts = fields.ranges.map { Array(bytes[$0]) }
    let pick = Int(random.next() % UInt64(parts.count))
    switch random.next() % 4 {
    case 0: parts.insert(parts[pick], at: Int(random.next() % UInt64(parts.count + 1)))         // a field twice
    case 1: parts.swapAt(pick, Int(random.next() % UInt64(parts.count)))                           // reordered
    case 2: if parts.count > 1 { parts.remove(at: pick) }                                          // one left out
    default:                                                                                       // another frame's field
        let donors = graftDonors
        let donor = donors[Int(random.next() % UInt64(donors.count))]
        parts.insert(donor, at: Int(random.next() % UInt64(parts.count + 1)))
    }
    let mutated = Array(parts.joined())
    guard mutated.count <= maxSize else { return fuzzerMutate(data, size, maxSize) }
    mutated.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: mutated.count) }
    return mutated.count
}

/// Top-level fields of the seed requests (envelopes and bodies of every kind), to graft.
let graftDonors: [[UInt8]] = seedRequests(token: "fuzz-read").flatMap { frame in
    (TopLevelFields(frame)?.ranges ?? []).map { Array(frame[$0]) }
}

// SwiftPM links an executable's entry point under the module's name; hand it to libFuzzer's driver.
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(_ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                     _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

@_cdecl("sightline_fuzz_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var count = argc
    var arguments = argv
    return runFuzzerDriver(&count, &arguments) { data, size in fuzzOneInput(data, size) }
}

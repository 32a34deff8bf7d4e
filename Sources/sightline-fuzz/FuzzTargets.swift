import ClusterModel
import Descriptors
import Foundation
import ServiceSupport
import VectorIndex
import VectorMath
import Wire
import WorkerService

// libFuzzer entry points (built only with SIGHTLINE_FUZZ=1 and -sanitize=fuzzer; see scripts/fuzz).
// SIGHTLINE_FUZZ_TARGET picks what one process fuzzes:
//   request     the request gate every service runs first (envelope, token, role, decode) and the
//               client's reply decoder, on the same bytes
//   worker      a whole worker (gate, then search, add, delete, transfer, codebook push, …) on tmpfs
//   index-file  the index file loader
//   model-file  the descriptor model loader
// SIGHTLINE_FUZZ_SEEDS=DIR writes a seed corpus for the target into DIR first.

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
                                                                  sequence: WriteSequence(seq: 1 + UInt64(number), previous: UInt64(number))),
                                               body: body)))
    }
    return frames
}

func seeds(for target: FuzzTarget) -> [[UInt8]] {
    switch target {
    case .request, .worker:
        return seedRequests(token: fuzzToken) + seedRequests(token: "fuzz-read")
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
        _ = gate.handle(bytes) { request in .health(HealthReply(cluster: "fuzz", shard: 0, codebookVersion: 0, vectorCount: 0,
                                                                 state: request.body.name)) }
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

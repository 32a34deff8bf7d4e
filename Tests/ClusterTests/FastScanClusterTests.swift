import ClusterModel
import Foundation
import Testing
import VectorIndex
import VectorMath
import Wire
@testable import WorkerService

/// A cluster on 4-bit fast-scan codebooks answers as one index holding every vector, and refuses
/// codebooks its config does not describe, or codes no 4-bit codebook can name.
@Suite struct FastScanClusterTests {
    static let fourBitCodebooks: [UInt8] = {
        var training = IVFPQTraining()
        training.iterations = 8
        let configuration = IVFPQConfiguration(dimension: 16, listCount: 16, subquantizerCount: 4, storesVectors: true, bitsPerCode: 4)
        return IndexFile.encode(try! IVFPQIndex.train(SmallData.base, configuration: configuration, training: training))
    }()

    @Test func fourBitShardsMergeToTheSingleIndexAnswer() throws {
        let cluster = try InProcessCluster(workerCount: 3, codebooks: Self.fourBitCodebooks, indexKeys: "pq_bits = 4\nstore_vectors = true")
        let client = cluster.client()
        let (added, _) = try SmallData.add(SmallData.base, to: client)
        #expect(added == 3000)
        var single = try IndexFile.decode(Self.fourBitCodebooks)
        try single.add(SmallData.base, ids: (0 ..< 3000).map { VectorID(UInt64($0)) })
        let expected = try single.search(SmallData.queries, parameters: SearchParameters(k: 10, probeCount: 4))
        let reply = try client.search(SmallData.batch(SmallData.queries), options: SearchOptions(k: 10, nprobe: 4))
        #expect(!reply.partial)
        #expect(reply.results.map(\.ids) == expected.map { $0.map(\.id.rawValue) })
        #expect(reply.results.map(\.distances) == expected.map { $0.map(\.distance) })
        // With refine each shard re-ranks its own k·refine best: together a superset of the one
        // index's candidates, so every rank is at least as near, and every distance is exact.
        let refinedSingle = try single.search(SmallData.queries, parameters: SearchParameters(k: 10, probeCount: 4, refineFactor: 4))
        let refined = try client.search(SmallData.batch(SmallData.queries), options: SearchOptions(k: 10, nprobe: 4, refine: 4))
        for (query, (cluster, alone)) in zip(refined.results, refinedSingle).enumerated() {
            #expect(zip(cluster.distances, alone.map(\.distance)).allSatisfy { $0 <= $1 }, "query \(query)")
            for (id, distance) in zip(cluster.ids, cluster.distances) {
                let exact = squaredL2(Array(SmallData.queries.row(query)), Array(SmallData.base.row(Int(id))), 16)
                #expect(abs(exact - distance) <= 1e-5 * max(1, exact), "query \(query), id \(id)")
            }
        }
    }

    @Test func codebooksTheConfigDoesNotDescribeAreRefused() throws {
        // 4-bit codebooks under a config that says 8 bits.
        #expect(throws: (any Error).self) {
            try InProcessCluster(workerCount: 1, codebooks: Self.fourBitCodebooks, indexKeys: "store_vectors = true")
        }
        // 8-bit refine codes are a single-node option.
        var training = IVFPQTraining()
        training.iterations = 4
        let scalar = IVFPQConfiguration(dimension: 16, listCount: 16, subquantizerCount: 4, storesScalarCodes: true)
        let scalarCodebooks = IndexFile.encode(try IVFPQIndex.train(SmallData.base, configuration: scalar, training: training))
        #expect(throws: (any Error).self) { try InProcessCluster(workerCount: 1, codebooks: scalarCodebooks) }
    }

    @Test func aTransferWithCodesOutOfRangeIsRefused() throws {
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("sightline-fastscan-\(getpid())-\(UInt32.random(in: 0 ... .max))").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let worker = try Worker(settings: WorkerSettings(cluster: "t", shard: ShardID(0), token: "t", dataDirectory: folder), log: { _ in })
        let template = try IndexFile.decode(Self.fourBitCodebooks)
        let good = ShardTransfer(codebookVersion: 1, ids: [1], lists: [0], codes: [1, 2, 3, 15], vectors: [Float](repeating: 0, count: 16))
        #expect(try worker.entries(of: good, template: template).count == 1)
        let hostile = ShardTransfer(codebookVersion: 1, ids: [1], lists: [0], codes: [1, 2, 200, 15],
                                    vectors: [Float](repeating: 0, count: 16))
        #expect(throws: (any Error).self) { try worker.entries(of: hostile, template: template) }
    }
}

import Datasets
import Foundation
import VectorIndex
import VectorMath
import ClusterClient
import Wire

/// Small synthetic data and trained codebooks shared by the fault tests.
enum SmallData {
    static let generator: SyntheticLandmarks = {
        var generator = SyntheticLandmarks()
        generator.dimension = 16
        generator.classCount = 100
        generator.seed = 21
        return generator
    }()
    static let base = generator.generate(.index, range: 0 ..< 3000).vectors
    static let queries = generator.generate(.query, range: 0 ..< 50).vectors
    static let codebooks: [UInt8] = {
        var training = IVFPQTraining()
        training.iterations = 8
        let index = try! IVFPQIndex.train(
            base, configuration: IVFPQConfiguration(dimension: 16, listCount: 16, subquantizerCount: 4),
            training: training)
        return IndexFile.encode(index)
    }()

    static func batch(_ matrix: Matrix) -> VectorBatch { VectorBatch(dimension: matrix.dimension, values: matrix.values) }

    static func add(_ matrix: Matrix, firstID: UInt64 = 0, to client: ServiceClient, batchSize: Int = 1000) throws -> (UInt64, UInt64) {
        var added: UInt64 = 0, ignored: UInt64 = 0, start = 0
        while start < matrix.rowCount {
            let end = min(matrix.rowCount, start + batchSize)
            let slice = matrix.slice(start ..< end)
            let reply = try client.add(AddBatch(ids: (start ..< end).map { firstID + UInt64($0) }, vectors: batch(slice)))
            added += reply.added
            ignored += reply.ignored
            start = end
        }
        return (added, ignored)
    }
}

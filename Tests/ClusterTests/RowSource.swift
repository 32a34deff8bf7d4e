import Datasets
import VectorMath

/// Vectors for ids 0, 1, 2, …: the synthetic generator's index split, made a thousand at a time.
struct RowSource {
    private var chunks: [Int: Matrix] = [:]

    mutating func rows(_ ids: [UInt64]) -> Matrix {
        var values: [Float] = []
        values.reserveCapacity(ids.count * Nemesis.dimension)
        for id in ids {
            let chunk = Int(id / 1000), row = Int(id % 1000)
            if chunks[chunk] == nil {
                chunks[chunk] = SmallData.generator.generate(.index, range: chunk * 1000 ..< (chunk + 1) * 1000).vectors
            }
            values += chunks[chunk]!.row(row)
        }
        return try! Matrix(dimension: Nemesis.dimension, values: values)
    }
}

import ProcessRuntime
import VectorIndex
import VectorMath

/// The steps of the single-node pipeline, shared by the CLI commands and the benchmark.
public enum IndexPipeline {
    /// Trains an empty index (codebooks only) and reports progress per k-means iteration.
    public static func train(
        _ training: Matrix, configuration: IVFPQConfiguration, settings: IVFPQTraining, progress: ProgressReporter
    ) throws -> IVFPQIndex {
        try IVFPQIndex.train(training, configuration: configuration, training: settings) { stage, done, total, objective in
            progress.report("train \(stage)", done, total, detail: objective.map { "objective \(String(format: "%.6g", $0))" } ?? "")
        }
    }

    /// Adds `vectors` with ids `firstID…` in batches, reporting progress, then compacts.
    public static func build(
        _ index: inout IVFPQIndex, vectors: Matrix, firstID: UInt64 = 0, threads: Int, progress: ProgressReporter
    ) throws {
        let batch = 20_000
        var start = 0
        let total = vectors.rowCount
        while start < total {
            let end = min(total, start + batch)
            let ids = (start ..< end).map { VectorID(firstID + UInt64($0)) }
            try index.add(vectors.slice(start ..< end), ids: ids, threads: resolvedThreadCount(threads))
            progress.report("encode", end, total)
            start = end
        }
        index.compact()
    }

    /// Exact top-`k` ids of each query against `base` (ids are row numbers).
    public static func groundTruth(
        queries: Matrix, base: Matrix, k: Int, metric: Metric, threads: Int, progress: ProgressReporter
    ) throws -> [[VectorID]] {
        try exactSearch(queries: queries, base: base, k: k, metric: metric, threads: resolvedThreadCount(threads)) { done, total in
            progress.report("ground truth", done, total)
        }.map { $0.map(\.id) }
    }
}

import Descriptors
import ErrorKinds
import RetrievalEval
import VectorMath

/// Calibration of a trained model: embed its training images, then let `DescriptorTasks` pick
/// the thresholds.
public enum DescriptorCalibration {
    /// Both thresholds a model carries, from up to 100,000 labelled training images: verification
    /// (best balanced accuracy on pairs) and identification (best open-set score with
    /// `calibrationHoldout` left out of the gallery; the gallery's size matters, since the nearest
    /// of many items is closer, so every image takes part). Returns them without storing them.
    public static func calibrate(_ network: EmbeddingNetwork, images: Matrix, labels: [Int32],
                                 threads: Int = 0) throws -> (verification: Float, identification: Float) {
        let rows = Array(0 ..< min(100_000, images.rowCount))
        let previous = network.threads
        network.threads = resolvedThreadCount(threads)
        defer { network.threads = previous }
        let descriptors = try network.embed(images.rows(at: rows))
        let rowLabels = rows.map { labels[$0] }
        guard Set(rowLabels).count >= 2 else {
            throw SightlineError.badInput("calibration needs at least two classes among the first \(rows.count) images")
        }
        return (DescriptorTasks.calibrateVerification(descriptors, labels: rowLabels),
                try DescriptorTasks.calibrateOpenSet(descriptors, labels: rowLabels,
                                                     holdingOut: DescriptorTasks.calibrationHoldout(rowLabels)))
    }
}

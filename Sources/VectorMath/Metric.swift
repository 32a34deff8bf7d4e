/// How two vectors are compared. Every search in Sightline ranks by a *distance*: lower is better.
public enum Metric: String, Sendable, CaseIterable, Codable {
    /// Squared Euclidean distance `‖a − b‖²` (`METRIC_L2` in FAISS; the square root is never taken).
    case l2
    /// Negated inner product `−⟨a, b⟩`, so that lower is still better (`METRIC_INNER_PRODUCT`,
    /// cosine similarity on L2-normalised vectors).
    case innerProduct = "ip"

    /// The distance between two vectors of `dimension` components.
    @inlinable
    public func distance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ dimension: Int) -> Float {
        switch self {
        case .l2: return squaredL2(a, b, dimension)
        case .innerProduct: return -dotProduct(a, b, dimension)
        }
    }
}

/// The `fraction` quantile of `values` (nearest rank; 0 for no values).
/// - Complexity: O(n log n) for the sort.
public func percentile(_ values: [Double], _ fraction: Double) -> Double {
    percentile(sorted: values.sorted(), fraction)
}

/// The `fraction` quantile of values already sorted ascending (nearest rank; 0 for none).
public func percentile(sorted: [Double], _ fraction: Double) -> Double {
    guard !sorted.isEmpty else { return 0 }
    let rank = Int((fraction * Double(sorted.count)).rounded(.up)) - 1
    return sorted[max(0, min(sorted.count - 1, rank))]
}

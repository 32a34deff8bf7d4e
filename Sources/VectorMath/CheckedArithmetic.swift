/// The product of `factors`, or nil when a factor is negative or the product overflows `Int`.
/// Every size that comes from a file or a peer goes through this (or a bound) before it is
/// multiplied or allocated: Swift traps on overflow, and a trap is a crash.
public func checkedProduct(_ factors: Int...) -> Int? {
    var product = 1
    for factor in factors {
        guard factor >= 0 else { return nil }
        let (next, overflow) = product.multipliedReportingOverflow(by: factor)
        if overflow { return nil }
        product = next
    }
    return product
}

/// The sum of `terms`, or nil when a term is negative or the sum overflows `Int`.
public func checkedSum(_ terms: Int...) -> Int? {
    var sum = 0
    for term in terms {
        guard term >= 0 else { return nil }
        let (next, overflow) = sum.addingReportingOverflow(term)
        if overflow { return nil }
        sum = next
    }
    return sum
}

extension UInt64 {
    /// `self + other`, or `UInt64.max` when that overflows: counts reported by peers are added
    /// this way, so a wrong count can make a total wrong but never crash the process.
    public func saturatingAdd(_ other: UInt64) -> UInt64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? .max : sum
    }
}

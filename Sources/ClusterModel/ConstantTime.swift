/// Compares two secrets in time independent of where they differ.
public func constantTimeEquals(_ a: String, _ b: String) -> Bool {
    let left = Array(a.utf8), right = Array(b.utf8)
    // Lengths are compared whole (folding them to a byte would let "a" equal "a" + 256 NULs);
    // the time depends on the lengths only, never on where the bytes differ.
    var difference: UInt8 = left.count == right.count ? 0 : 1
    for index in 0 ..< max(left.count, right.count) {
        difference |= (index < left.count ? left[index] : 0) ^ (index < right.count ? right[index] : 0)
    }
    return difference == 0
}

/// Compares two secrets in time independent of where they differ. They are bytes: a NUL is a
/// byte like any other, and lengths are compared whole (folding them to a byte would let "a"
/// equal "a" + 256 NULs); the time depends on the lengths only.
public func constantTimeEquals(_ left: [UInt8], _ right: [UInt8]) -> Bool {
    var difference: UInt8 = left.count == right.count ? 0 : 1
    for index in 0 ..< max(left.count, right.count) {
        difference |= (index < left.count ? left[index] : 0) ^ (index < right.count ? right[index] : 0)
    }
    return difference == 0
}

/// The same comparison over the UTF-8 bytes of two strings.
public func constantTimeEquals(_ a: String, _ b: String) -> Bool {
    constantTimeEquals(Array(a.utf8), Array(b.utf8))
}

import CProtobufC
#if canImport(Glibc)
import Glibc
#endif

/// The memory protobuf-c may allocate while it unpacks one frame. A frame of many tiny fields
/// (empty strings, unknown fields) unpacks into an allocation each, far more than its own size;
/// past the budget the unpack fails as a malformed frame instead of taking the machine's memory.
final class AllocationBudget {
    /// What one allocation is charged beyond its size: malloc's own header and rounding.
    static let overheadPerAllocation = 32

    private(set) var remaining: Int
    private(set) var exhausted = false

    /// Four times the frame plus 1 MiB: packed floats and ids unpack to about their own size,
    /// so real requests stay far below it.
    init(frameBytes: Int) {
        remaining = 4 * frameBytes + (1 << 20)
    }

    fileprivate func charge(_ size: Int) -> Bool {
        let cost = size + Self.overheadPerAllocation
        guard !exhausted, cost <= remaining else {
            exhausted = true
            return false
        }
        remaining -= cost
        return true
    }

    /// Runs `body` with a protobuf-c allocator that draws on this budget.
    func withAllocator<T>(_ body: (UnsafeMutablePointer<ProtobufCAllocator>) throws -> T) rethrows -> T {
        let context = Unmanaged.passUnretained(self).toOpaque()
        var allocator = ProtobufCAllocator(alloc: budgetedAlloc, free: budgetedFree, allocator_data: context)
        return try withExtendedLifetime(self) { try body(&allocator) }
    }
}

private let budgetedAlloc: @convention(c) (UnsafeMutableRawPointer?, Int) -> UnsafeMutableRawPointer? = { context, size in
    guard let context else { return nil }
    let budget = Unmanaged<AllocationBudget>.fromOpaque(context).takeUnretainedValue()
    guard budget.charge(size) else { return nil }
    return malloc(max(1, size))
}

private let budgetedFree: @convention(c) (UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) -> Void = { _, pointer in
    free(pointer)
}

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
    /// `extra`: bytes allowed beyond that (a reply's per-list allowance).
    init(frameBytes: Int, extra: Int = 0) {
        remaining = FrameLimits.unpackBudget(frameBytes: frameBytes) + max(0, extra)
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

/// Unpacks `frame` with protobuf-c's `unpack` within an `AllocationBudget`, runs `body` on the
/// message and frees it with the same allocator. `what` names the message in errors.
func unpackWithinBudget<Message, Result>(
    _ frame: UnsafeRawBufferPointer, what: String, extraBudget: Int = 0,
    unpack: (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<Message>?,
    free: (UnsafeMutablePointer<Message>?, UnsafeMutablePointer<ProtobufCAllocator>?) -> Void,
    _ body: (Message) throws(WireError) -> Result
) throws(WireError) -> Result {
    let budget = AllocationBudget(frameBytes: frame.count, extra: extraBudget)
    let bytes = frame.bindMemory(to: UInt8.self)
    let unpacked = budget.withAllocator { allocator in unpack(allocator, bytes.count, bytes.baseAddress) }
    guard let message = unpacked else {
        throw .malformed(budget.exhausted ? "unpacking it would take more than 4 × its size (+ 1 MiB) in memory" : "not a \(what) message")
    }
    defer { budget.withAllocator { free(message, $0) } }
    return try body(message.pointee)
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

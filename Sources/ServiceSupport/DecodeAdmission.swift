import Synchronization
import Wire

/// Memory that large frames may take at once while they are unpacked and answered. Each admitted
/// frame over 1 MiB reserves its unpack budget (4 × its size + 1 MiB) until its reply is built;
/// a frame that does not fit is refused as `UNAVAILABLE` (retry later) instead of pushing the
/// process's memory up. Small frames (searches, health) never wait on it.
public final class DecodeAdmission: Sendable {
    /// 768 MiB: e.g. two 64 MiB frames at a time, or many batches of a few MiB.
    public static let defaultBytes = 768 << 20
    static let smallFrameBytes = 1 << 20

    private let available: Mutex<Int>

    public init(bytes: Int = DecodeAdmission.defaultBytes) {
        available = Mutex(bytes)
    }

    /// Runs `body` with the frame's reservation held, or throws when it does not fit now.
    func admitting<T>(frameBytes: Int, _ body: () throws -> T) throws -> T {
        let reservation = frameBytes <= Self.smallFrameBytes ? 0 : FrameLimits.unpackBudget(frameBytes: frameBytes)
        let granted = available.withLock { available in
            guard reservation <= available else { return false }
            available -= reservation
            return true
        }
        guard granted else {
            throw ErrorReply(.unavailable, "busy unpacking other large requests (\(frameBytes >> 20) MiB frame): retry shortly")
        }
        defer { available.withLock { $0 += reservation } }
        return try body()
    }
}

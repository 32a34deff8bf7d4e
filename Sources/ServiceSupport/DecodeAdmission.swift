import Synchronization
import Wire

/// Memory that large frames may take at once while they are unpacked and answered. Each admitted
/// frame over 1 MiB reserves twice its unpack budget (the protobuf-c message and its Swift copy
/// exist together for a moment: 2 × (4 × its size + 1 MiB)) until its reply is built;
/// a frame that does not fit is refused as `UNAVAILABLE` (retry later) instead of pushing the
/// process's memory up. Small frames (searches, health) never wait on it.
public final class DecodeAdmission: Sendable {
    /// 1 GiB: e.g. one 64 MiB frame at a time (514 MiB), or many batches of a few MiB.
    public static let defaultBytes = 1 << 30
    static let smallFrameBytes = 1 << 20

    private let available: Mutex<Int>

    public init(bytes: Int = DecodeAdmission.defaultBytes) {
        available = Mutex(bytes)
    }

    /// Runs `body` with the frame's reservation held, or throws when it does not fit now.
    func admitting<T>(frameBytes: Int, _ body: () throws -> T) throws -> T {
        let reservation = frameBytes <= Self.smallFrameBytes ? 0 : 2 * FrameLimits.unpackBudget(frameBytes: frameBytes)
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

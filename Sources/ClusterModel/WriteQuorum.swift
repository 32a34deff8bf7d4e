/// How many copies of a replicated shard must hold a write before it is acknowledged
/// (`write_quorum` in the config). With fewer copies in sync than that, a write is refused with
/// `unavailable` before anything is applied; a write that fewer copies applied than that is not
/// acknowledged (a retry is safe: adds and deletes are idempotent).
///
/// The trade-off is Kafka's `min.insync.replicas` and Qdrant's `write_consistency_factor`:
/// `majority` (the default) keeps every acknowledged write on more than half of the copies, so
/// one lost disk or one copy that comes back empty never loses it, at the price of refusing
/// writes while half the copies are down (with 2 copies: while either is); `1` keeps writing on
/// one copy (the others catch up later) but an acknowledged write then lives on one disk only.
public enum WriteQuorum: Sendable, Equatable, CustomStringConvertible {
    case all
    case majority
    case count(Int)

    /// The copies that must apply a write of a shard that has `copies` copies (in any state).
    /// A count above the shard's copies asks for all of them.
    public func required(copies: Int) -> Int {
        switch self {
        case .all: return max(copies, 1)
        case .majority: return copies / 2 + 1
        case .count(let number): return max(1, min(number, copies))
        }
    }

    public var description: String {
        switch self {
        case .all: return "all"
        case .majority: return "majority"
        case .count(let number): return "\(number)"
        }
    }

    /// `"all"`, `"majority"` or a whole number of copies, 1 … 3.
    public init(parsing value: ConfigValue?) throws(ConfigError) {
        switch value {
        case nil: self = .majority
        case .string("all"): self = .all
        case .string("majority"): self = .majority
        case .integer(let number) where (1 ... 3).contains(number): self = .count(number)
        case .integer(let number): throw .invalid("write_quorum = \(number): use 1, 2 or 3 copies, \"majority\" or \"all\"")
        default: throw .wrongType(key: "write_quorum", expected: "\"all\", \"majority\" or a number of copies (1 … 3)")
        }
    }
}

import VectorMath

/// When a replicated write stops waiting for its copies. The calls are in groups, one per shard
/// (the positions of that shard's copies). A group is settled when every copy answered, or when
/// `grace` has passed since its first copy applied the write: a hung copy then costs the write
/// that long, not the whole deadline, and is demoted. Everything stops at `end` (the request's
/// deadline). Times are a `MonotonicClock`'s nanoseconds.
struct StragglerRule: Sendable {
    let groups: [[Int]]
    /// The request's deadline.
    let end: UInt64
    let graceNanoseconds: UInt64
    private var answered: Set<Int> = []
    /// When each group's grace ends (set by the first copy of the group that applied).
    private var graceEnds: [Int: UInt64] = [:]
    private let groupOf: [Int: Int]

    init(groups: [[Int]], end: UInt64, graceMilliseconds: Int) {
        self.groups = groups
        self.end = end
        graceNanoseconds = UInt64(max(0, graceMilliseconds)) * 1_000_000
        groupOf = Dictionary(uniqueKeysWithValues: groups.enumerated().flatMap { group, members in members.map { ($0, group) } })
    }

    /// The call at `position` answered at `now`; `applied` when it applied the write.
    mutating func arrived(_ position: Int, applied: Bool, at now: UInt64) {
        answered.insert(position)
        if applied, let group = groupOf[position], graceEnds[group] == nil {
            graceEnds[group] = now.saturatingAdd(graceNanoseconds)
        }
    }

    /// True when no group waits any longer (the deadline is the caller's to check).
    func isSettled(at now: UInt64) -> Bool {
        groups.enumerated().allSatisfy { group, members in
            members.allSatisfy(answered.contains) || (graceEnds[group].map { now >= $0 } ?? false)
        }
    }

    /// When to look again: the deadline, or the first grace period still running (a passed one
    /// would make the wait return at once).
    func wake(at now: UInt64) -> UInt64 {
        ([end] + graceEnds.values.filter { $0 > now }).min()!
    }
}

/// What the coordinator knows of one worker, refreshed by the health loop.
struct WorkerState: Sendable {
    var reachable = false
    var codebookVersion: UInt64 = 0
    var vectorCount: UInt64 = 0
    var state = "unknown"
}

import ClusterModel
import ServiceSupport
import Testing
import Wire
@testable import CoordinatorService
@testable import ShardStore

/// `ShardCalls` directly: which copy a shard's call goes to, what a shard with no copy to call
/// answers, and that answered round trips (not probes) are timed for `/metrics`.
@Suite struct ShardCallsTests {
    /// Shard 0 has one worker; shard 1 two copies in `states`' states.
    static func calls(_ workers: FakeWorkers, states: [String]) -> (ShardCalls, MetricsRegistry) {
        var routing = Routing(current: ShardMap(version: 1, shards: [MapShard(shard: 0, url: "w0"), MapShard(shard: 1, url: "w1a")]))
        routing.replicaSets[1] = zip(["w1a", "w1b"], states).map { ReplicaRecord(shard: 1, url: $0, state: $1) }
        let metrics = MetricsRegistry()
        return (ShardCalls(directory: ShardDirectory(routing), pool: workers.pool(clock: ManualClock()), metrics: metrics), metrics)
    }

    static func serving() -> FakeWorkers {
        let workers = FakeWorkers()
        for (url, number) in [("w0", UInt64(0)), ("w1a", 10), ("w1b", 11)] { workers.serve(url, number: number) }
        return workers
    }

    @Test func aShardInNoMapIsNotFoundAndOneWithNoCopyInSyncIsUnavailable() {
        let workers = Self.serving()
        let (calls, _) = Self.calls(workers, states: [ReplicaState.catchingUp, ReplicaState.joining])
        let replies = calls.fanOutCalls([(ShardID(0), .stats), (ShardID(1), .stats), (ShardID(7), .stats)], deadlineMilliseconds: 1000)
        #expect(answeredBy(replies[0]) == 0)
        guard case .failure(let unsynced) = replies[1], case .failure(let unknown) = replies[2] else {
            Issue.record("shards 1 and 7 answered: \(replies)")
            return
        }
        #expect(unsynced.code == .unavailable)
        #expect(unknown.code == .notFound)
        // Neither copy of shard 1 was asked: a copy that has not caught up never answers for it.
        #expect(workers.callCount("w1a") == 0 && workers.callCount("w1b") == 0)
    }

    @Test func aCopyCatchingUpGetsNoCallsWhileItsPeerIsInSync() {
        let workers = Self.serving()
        let (calls, _) = Self.calls(workers, states: [ReplicaState.catchingUp, ReplicaState.inSync])
        #expect(calls.preferredReplica(of: ShardID(1)) == "w1b")
        #expect(calls.servingReplicas(of: ShardID(1)) == ["w1b"])
        for _ in 0 ..< 5 {
            #expect(answeredBy(calls.fanOut([ShardID(1): .stats], deadlineMilliseconds: 1000)[ShardID(1)]) == 11)
        }
        #expect(workers.callCount("w1a") == 0)
    }

    @Test func answeredCallsAreTimedPerShardAndProbesAreNot() {
        let workers = Self.serving()
        let (calls, metrics) = Self.calls(workers, states: [ReplicaState.inSync, ReplicaState.inSync])
        _ = calls.call([WorkerCall(shard: ShardID(0), url: "w0", body: .health)], deadlineMilliseconds: 1000, probe: true)
        #expect(!metrics.text().contains("sightline_shard_call_seconds"))
        _ = calls.fanOut([ShardID(0): .stats], deadlineMilliseconds: 1000)
        let text = metrics.text()
        #expect(text.contains("sightline_shard_call_seconds_count{shard=\"0\"} 1"), "\(text)")
        #expect(!text.contains("shard=\"1\""))
    }
}

import Foundation
import Testing

/// A replicated cluster (r = 2, real processes on loopback) grows and shrinks while a client adds,
/// deletes and searches; every complete answer must equal a single index over the acknowledged
/// vectors, and at the end every acknowledged id is on every copy of its shard exactly once
/// (`Nemesis`'s model and checks, with a fixed script instead of a seeded schedule).
@Suite(.serialized) struct GrowReplicatedTests {
    /// 2 → 3 → 4 shards and back to 2; in every move a copy of a source and a copy of a target
    /// are killed -9 at the copy step, and the coordinator at a step that rotates over begin,
    /// copy, verify, flip and delete.
    @Test func growAndShrinkWithKillsMidMove() throws {
        let script: [Nemesis.Fault] = [.addShard, .addShard, .removeShard, .removeShard, .addShard]
        let tally = try Nemesis(.init(seed: 21, seconds: 4, topology: .growing,
                                      script: Nemesis.Step.inTurn(script.map { ($0, 0) }))).run()
        #expect(tally.violations.isEmpty, "\(tally.violations.joined(separator: "\n"))")
        #expect(tally.faults["add-shard"] == 3 && tally.faults["remove-shard"] == 2)
        #expect(tally.adds > 10 && tally.checkedSearches > 5, "too little work was checked: \(tally)")
    }

    /// drain-host of the host holding copies of both shards, then set-replication 1 → 2 → 3 → 2,
    /// with the client running throughout.
    @Test func replicationChangesAndADrainedHost() throws {
        let script: [Nemesis.Fault] = [.drainHost, .setReplication(1), .setReplication(2), .setReplication(3), .setReplication(2)]
        let tally = try Nemesis(.init(seed: 22, seconds: 4, topology: .growing,
                                      script: Nemesis.Step.inTurn(script.map { ($0, 0) }))).run()
        #expect(tally.violations.isEmpty, "\(tally.violations.joined(separator: "\n"))")
        #expect(tally.faults["set-replication"] == 4 && tally.faults["drain-host"] == 1)
        #expect(tally.adds > 10 && tally.checkedSearches > 5, "too little work was checked: \(tally)")
    }

    /// The same on network-namespace hosts (one worker a host): a shard added, a worker's host cut
    /// off for 2 s, a host drained, replication raised to 3 and lowered to 2, a shard drained.
    @Test(.enabled(if: TestHosts.available, "network namespaces cannot be created here (needs root and iproute2): skipped"))
    func growthAcrossNamespaceHosts() throws {
        let script: [(Nemesis.Fault, Double)] = [(.addShard, 0), (.partition(worker: 0), 2), (.drainHost, 0), (.setReplication(3), 0),
                                                 (.setReplication(2), 0), (.removeShard, 0)]
        let tally = try Nemesis(.init(seed: 23, seconds: 4, topology: .growingHosts,
                                      script: Nemesis.Step.inTurn(script))).run()
        #expect(tally.violations.isEmpty, "\(tally.violations.joined(separator: "\n"))")
        #expect(tally.faults["add-shard"] == 1 && tally.faults["drain-host"] == 1 && tally.faults["partition"] == 1)
        #expect(tally.adds > 10 && tally.checkedSearches > 5, "too little work was checked: \(tally)")
    }
}

extension Nemesis.Step {
    /// A fixed script: the faults one after another (each starts once the previous one ended),
    /// each lasting its seconds.
    static func inTurn(_ faults: [(Nemesis.Fault, Double)]) -> [Nemesis.Step] {
        faults.enumerated().map { Nemesis.Step(at: 1 + Double($0.offset) * 0.1, fault: $0.element.0, lasts: $0.element.1) }
    }
}

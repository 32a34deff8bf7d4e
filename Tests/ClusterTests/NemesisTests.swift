import Foundation
import Testing

/// Short fixed-seed runs of the fault schedule (`Nemesis`), part of every test run; longer runs
/// with other seeds come from `scripts/dev/nemesis --seed S --minutes M`, which sets NEMESIS_SEED
/// (and the rest) for `longRun`.
@Suite(.serialized) struct NemesisTests {
    static let environment = ProcessInfo.processInfo.environment

    @Test func replicatedClusterUnderAFixedSchedule() throws {
        let tally = try Nemesis(.init(seed: 7, seconds: 40, topology: .replicated)).run()
        #expect(tally.violations.isEmpty, "\(tally.violations.joined(separator: "\n"))")
        #expect(tally.adds > 10 && tally.checkedSearches > 5, "too little work was checked: \(tally)")
        #expect(tally.faults.values.reduce(0, +) >= 5)
    }

    @Test func replicatedClusterWritingOnOneCopy() throws {
        let tally = try Nemesis(.init(seed: 11, seconds: 30, topology: .replicated, writeQuorum: "1")).run()
        #expect(tally.violations.isEmpty, "\(tally.violations.joined(separator: "\n"))")
        #expect(tally.adds > 10 && tally.checkedSearches > 5, "too little work was checked: \(tally)")
    }

    @Test func singleCopiesWithMovesUnderAFixedSchedule() throws {
        let tally = try Nemesis(.init(seed: 5, seconds: 30, topology: .moving)).run()
        #expect(tally.violations.isEmpty, "\(tally.violations.joined(separator: "\n"))")
        #expect(tally.adds > 10 && tally.checkedSearches > 5, "too little work was checked: \(tally)")
    }

    @Test(.enabled(if: TestHosts.available, "network namespaces cannot be created here (needs root and iproute2): skipped"))
    func replicatedHostsWithPartitions() throws {
        let tally = try Nemesis(.init(seed: 3, seconds: 30, topology: .replicatedHosts)).run()
        #expect(tally.violations.isEmpty, "\(tally.violations.joined(separator: "\n"))")
        #expect(tally.faults["partition", default: 0] >= 1)
        #expect(tally.adds > 10 && tally.checkedSearches > 5, "too little work was checked: \(tally)")
    }

    /// `scripts/dev/nemesis`: one long run with the seed, length, topology and quorum it names.
    @Test(.enabled(if: environment["NEMESIS_SEED"] != nil, "set by scripts/dev/nemesis"))
    func longRun() throws {
        let env = Self.environment
        let topology = Nemesis.Topology(rawValue: env["NEMESIS_TOPOLOGY"] ?? "replicated") ?? .replicated
        if topology == .replicatedHosts || topology == .growingHosts {
            try #require(TestHosts.available, "network namespaces are not available here")
        }
        let settings = Nemesis.Settings(seed: UInt64(env["NEMESIS_SEED"]!) ?? 1, seconds: 60 * (Double(env["NEMESIS_MINUTES"] ?? "1") ?? 1),
                                        topology: topology, writeQuorum: env["NEMESIS_QUORUM"] ?? "majority",
                                        reportPath: env["NEMESIS_REPORT"])
        let tally = try Nemesis(settings).run()
        #expect(tally.violations.isEmpty, "\(tally.violations.joined(separator: "\n"))")
    }
}

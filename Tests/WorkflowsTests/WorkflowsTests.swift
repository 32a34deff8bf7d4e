import Datasets
import ProcessRuntime
import ErrorKinds
import Testing
import VectorIndex
@testable import Workflows

@Suite struct WorkflowsTests {
    static func smallDataset() throws -> Dataset {
        try DatasetCatalog.load("synthetic:n=2000,q=100,d=16,classes=50,seed=4")
    }

    /// The bench sweep returns one row per (refine, nprobe) with recall that grows with nprobe.
    @Test func benchSweepsEveryProbeCount() throws {
        var bench = Benchmark(dataset: try Self.smallDataset(),
                              configuration: IVFPQConfiguration(dimension: 16, listCount: 16, subquantizerCount: 4),
                              probeCounts: [1, 16])
        bench.training.iterations = 4
        bench.latencySampleCount = 10
        bench.progress = ProgressReporter(enabled: false)
        let rows = try bench.run()
        #expect(rows.map(\.probeCount) == [1, 16])
        #expect(rows[1].recallAt10 >= rows[0].recallAt10)
        #expect(rows.allSatisfy { $0.queriesPerSecondOneThread > 0 && $0.indexBytes > 0 })
    }

    @Test func aProbeCountAboveTheListsIsBadInput() throws {
        let bench = Benchmark(dataset: try Self.smallDataset(),
                              configuration: IVFPQConfiguration(dimension: 16, listCount: 16, subquantizerCount: 4),
                              probeCounts: [17])
        do {
            _ = try bench.run()
            Issue.record("nprobe 17 > nlist 16 must be refused")
        } catch {
            #expect(ErrorKind(of: error) == .badInput)
        }
    }
}

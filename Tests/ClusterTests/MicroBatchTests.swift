import ClusterClient
@testable import CoordinatorService
import Dispatch
import Foundation
import Synchronization
import Testing
import VectorIndex
import VectorMath
import Wire

/// Concurrent single-query searches, alone or coalesced into batches: each answer equals one
/// index's answer to that query searched alone (ids and distances, bit for bit). Batches formed
/// by the window ask for each query's products on their own (`queries_apart`), since OpenBLAS
/// picks its kernels by the shape of a product.
@Suite struct MicroBatchTests {
    static func agree(_ got: NeighborList, _ expected: [Neighbor]) -> Bool {
        got.ids == expected.map(\.id.rawValue) && got.distances == expected.map(\.distance)
    }

    static func searchConcurrently(_ cluster: InProcessCluster, threads: Int, rounds: Int) throws -> [String] {
        let client = cluster.client()
        _ = try SmallData.add(SmallData.base, to: client)
        var single = try IndexFile.decode(SmallData.codebooks)
        try single.add(SmallData.base, ids: (0 ..< UInt64(SmallData.base.rowCount)).map { VectorID($0) })
        let queries = SmallData.queries
        // Odd threads ask for a probe ratio: a batch must never mix the two.
        let ratios: [Float] = [0, 1]
        let expected = try ratios.map { ratio in
            try (0 ..< queries.rowCount).map { query in
                var parameters = SearchParameters(k: 30, probeCount: 16)
                parameters.probeRatio = ratio
                return try single.search(queries.slice(query ..< query + 1), parameters: parameters)[0]
            }
        }
        guard expected[0] != expected[1] else { return ["the probe ratio changes no answer: the mix tests nothing"] }
        let problems = Mutex<[String]>([])
        Self.onThreads(threads) { thread in
            let client = cluster.client()
            let ratio = thread % 2
            for _ in 0 ..< rounds {
                for query in stride(from: thread / 2, to: queries.rowCount, by: (threads + 1) / 2) {
                    do {
                        let reply = try client.search(SmallData.batch(queries.slice(query ..< query + 1)),
                                                      options: SearchOptions(k: 30, nprobe: 16, probeRatio: ratios[ratio]))
                        if reply.partial || reply.results.count != 1 || !agree(reply.results[0], expected[ratio][query]) {
                            problems.withLock { $0.append("query \(query): \(reply)") }
                        }
                    } catch {
                        problems.withLock { $0.append("query \(query): \(error)") }
                    }
                }
            }
        }
        return problems.withLock { $0 }
    }

    /// Runs `body` on `count` threads of its own at once (the dispatch pool may run fewer at a
    /// time on a busy machine, and batches form only from searches that overlap).
    static func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
        let done = DispatchGroup()
        for thread in 0 ..< count {
            done.enter()
            Thread { body(thread); done.leave() }.start()
        }
        done.wait()
    }

    @Test func batchedSearchesAgreeWithSearchesAlone() throws {
        let cluster = try InProcessCluster(workerCount: 3, batchWindowMicroseconds: 3000)
        let problems = try Self.searchConcurrently(cluster, threads: 8, rounds: 4)
        #expect(problems.isEmpty, "\(problems.prefix(5))")
        let batcher = try #require(cluster.coordinator.batcher)
        let (sent, held) = (batcher.sent.load(ordering: .relaxed), batcher.coalesced.load(ordering: .relaxed))
        #expect(sent > 0 && held > sent, "\(sent) batches held \(held) queries: none coalesced")
        // nprobe 0 asks for the cluster's default, through the batcher as without it.
        let reply = try cluster.client().search(SmallData.batch(SmallData.queries.slice(0 ..< 1)), options: SearchOptions(k: 10, nprobe: 0))
        #expect(reply.results.count == 1 && reply.results[0].ids.count == 10)
    }

    /// With no window, searches beyond two in flight share batches that leave when one in flight
    /// answers: every answer is still the query's answer alone, and batches did form.
    @Test func batchesWhileSearchesAreInFlightAgreeWithSearchesAlone() throws {
        let cluster = try InProcessCluster(workerCount: 3, topLevel: "search_batch_in_flight = 2")
        let problems = try Self.searchConcurrently(cluster, threads: 8, rounds: 4)
        #expect(problems.isEmpty, "\(problems.prefix(5))")
        let batcher = try #require(cluster.coordinator.batcher)
        let (sent, held) = (batcher.sent.load(ordering: .relaxed), batcher.coalesced.load(ordering: .relaxed))
        #expect(sent > 0 && held > sent, "\(sent) batches held \(held) queries: none coalesced")
    }

    /// Off: no batch, and every answer is bit for bit the query's answer alone.
    @Test func batchingOffNeverBatchesAndAnswersExactly() throws {
        let cluster = try InProcessCluster(workerCount: 2, batchWindowMicroseconds: 0, topLevel: "search_batch_in_flight = 0")
        let problems = try Self.searchConcurrently(cluster, threads: 4, rounds: 1)
        #expect(problems.isEmpty, "\(problems.prefix(5))")
        #expect(cluster.coordinator.batcher == nil)
    }

    /// A bad query is refused alone; the others that share its window are answered.
    @Test func aBadQueryFailsAloneNotItsBatch() throws {
        let cluster = try InProcessCluster(workerCount: 2, batchWindowMicroseconds: 3000)
        let client = cluster.client()
        _ = try SmallData.add(SmallData.base, to: client)
        let outcomes = Mutex<[Bool]>([])
        Self.onThreads(6) { thread in
            let values = thread == 0 ? [Float](repeating: .nan, count: 16) : Array(SmallData.queries.slice(thread ..< thread + 1).values)
            let ok = (try? cluster.client().search(VectorBatch(dimension: 16, values: values),
                                                   options: SearchOptions(k: 5, nprobe: 4))) != nil
            outcomes.withLock { $0.append(ok == (thread != 0)) }
        }
        #expect(outcomes.withLock { $0 }.allSatisfy { $0 })
    }
}

import ClusterClient
import Foundation
import Testing
import VectorIndex
import VectorMath
import Wire

/// The coordinator ranks the coarse centroids once and sends each shard the lists to scan.
@Suite struct ProbeListTests {
    /// A one-worker cluster holding 1,500 vectors; its client and a client of the worker itself.
    static func oneWorker() throws -> (InProcessCluster, ServiceClient, ServiceClient) {
        let cluster = try InProcessCluster(workerCount: 1)
        let client = cluster.client()
        _ = try SmallData.add(SmallData.base.slice(0 ..< 1500), to: client)
        return (cluster, client, ServiceClient(connection: cluster.network.connect(cluster.workerURLs[0]), token: "in-process"))
    }

    @Test func aWorkerScansTheListsItIsGivenAndRefusesMalformedOnes() throws {
        let (cluster, client, worker) = try Self.oneWorker()
        defer { withExtendedLifetime(cluster) {} }
        let queries = SmallData.queries.slice(0 ..< 40)
        let template = try IndexFile.decode(SmallData.codebooks)
        let ranked = try template.rankCentroids(queries, probeCount: 4)
        var given = SearchOptions(k: 10, nprobe: 4, probeLists: ranked.flatMap { $0.map { UInt32($0.list.rawValue) } },
                                  probeTerms: ranked.flatMap { $0.map(\.centroidDistance) })
        let own = try worker.search(SmallData.batch(queries), options: SearchOptions(k: 10, nprobe: 4))
        #expect(try worker.search(SmallData.batch(queries), options: given) == own)
        #expect(try client.search(SmallData.batch(queries), options: SearchOptions(k: 10, nprobe: 4)).results == own.results)

        // Other lists give another answer: the worker does scan what it is given.
        var shuffled = given
        shuffled.probeLists = ranked.flatMap { probes in probes.map { UInt32((Int($0.list.rawValue) + 1) % template.listCount) } }
        #expect(try worker.search(SmallData.batch(queries), options: shuffled) != own)

        var broken: [SearchOptions] = []
        var options = given; options.probeLists.removeLast(); broken.append(options)                 // one list short
        options = given; options.probeTerms.removeLast(); broken.append(options)                     // one term short
        options = given; options.probeLists[3] = UInt32(template.listCount); broken.append(options)  // no such list
        options = given; options.probeTerms[0] = .nan; broken.append(options)
        options = given; options.probeLists[1] = options.probeLists[0]; broken.append(options)       // a list twice
        for options in broken {
            var code: ErrorCode?
            do { _ = try worker.search(SmallData.batch(queries), options: options) } catch {
                if case .server(let reply) = error { code = reply.code }
            }
            #expect(code == .badRequest)
        }
        given.probeLists = []
        given.probeTerms = []
        #expect(try worker.search(SmallData.batch(queries), options: given) == own)
    }
}

/// `probe_ratio` travels from the client through the coordinator (which ranks the nprobe lists)
/// to the worker (which cuts them): the answer is the one the worker gives ranking on its own.
@Suite struct ProbeRatioClusterTests {
    @Test func theRatioReachesTheShardsAndBadRatiosAreRefused() throws {
        let (cluster, client, worker) = try ProbeListTests.oneWorker()
        defer { withExtendedLifetime(cluster) {} }
        let queries = SmallData.batch(SmallData.queries.slice(0 ..< 40))
        let template = try IndexFile.decode(SmallData.codebooks)
        let nprobe = min(16, template.listCount)
        let cut = SearchOptions(k: 10, nprobe: nprobe, probeRatio: 1.2)
        let own = try worker.search(queries, options: cut)
        #expect(try client.search(queries, options: cut).results == own.results)
        // The ratio is applied: the same nprobe without it scans more lists and answers otherwise.
        #expect(try worker.search(queries, options: SearchOptions(k: 10, nprobe: nprobe)) != own)
        for ratio: Float in [0.5, -1, .nan, .infinity, 2e6] {
            for service in [worker, client] {
                var code: ErrorCode?
                do { _ = try service.search(queries, options: SearchOptions(k: 10, nprobe: nprobe, probeRatio: ratio)) } catch {
                    if case .server(let reply) = error { code = reply.code }
                }
                #expect(code == .badRequest, "ratio \(ratio)")
            }
        }
    }
}

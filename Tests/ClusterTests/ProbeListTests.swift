import ClusterClient
import Foundation
import Testing
import VectorIndex
import VectorMath
import Wire

/// The coordinator ranks the coarse centroids once and sends each shard the lists to scan.
@Suite struct ProbeListTests {
    @Test func aWorkerScansTheListsItIsGivenAndRefusesMalformedOnes() throws {
        let cluster = try InProcessCluster(workerCount: 1)
        let client = cluster.client()
        _ = try SmallData.add(SmallData.base.slice(0 ..< 1500), to: client)
        let worker = ServiceClient(connection: cluster.network.connect(cluster.workerURLs[0]), token: "in-process")
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

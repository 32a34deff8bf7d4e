import ClusterClient
import ClusterModel
import Foundation
import ShardStore
import Testing
import Transport
import VectorIndex
import VectorMath
import Wire
import WorkerService

/// The worker's side of a move and the coordinator's checks on cluster changes, in process.
@Suite struct PlacementTests {
    /// The error code a call fails with (nil when it succeeds).
    func code(_ body: () throws(ClientError) -> ResponseBody) -> ErrorCode? {
        do {
            _ = try body()
            return nil
        } catch {
            if case .server(let reply) = error { return reply.code }
            return .unspecified
        }
    }

    func worker(_ cluster: InProcessCluster, _ shard: Int) -> ServiceClient {
        ServiceClient(connection: cluster.network.connect(cluster.workerURLs[shard]), token: "in-process")
    }

    @Test func aWorkerRefusesPlacementsThatAreMalformedOlderOrDropItUnannounced() throws {
        let cluster = try InProcessCluster(workerCount: 2)
        let shard0 = worker(cluster, 0)
        let health = try shard0.health()
        #expect(health.mapVersion == 1 && health.pendingMapVersion == 0)
        let bad: [([Placement], ErrorCode)] = [
            ([], .badRequest),
            ([Placement(version: 2, shards: [0]), Placement(version: 3, shards: [0]), Placement(version: 4, shards: [0])], .badRequest),
            ([Placement(version: 2, shards: [0, 0])], .badRequest),
            ([Placement(version: 0, shards: [0])], .badRequest),
            ([Placement(version: 3, shards: [0]), Placement(version: 2, shards: [0, 1])], .badRequest),
            ([Placement(version: 2, shards: Array(0 ... 5000))], .badRequest),
            ([Placement(version: 2, shards: [1])], .badRequest),   // drops shard 0 without a move announcing it
        ]
        for (placements, expected) in bad {
            #expect(code { () throws(ClientError) in try shard0.call(.placementUpdate(placements)) } == expected, "\(placements)")
        }
        // A version it knows must keep its shards.
        #expect(code { () throws(ClientError) in try shard0.call(.placementUpdate([Placement(version: 1, shards: [0])])) } == .conflict)
        _ = try shard0.call(.placementUpdate([Placement(version: 5, shards: [0, 1])]))
        #expect(code { () throws(ClientError) in try shard0.call(.placementUpdate([Placement(version: 4, shards: [0, 1])])) } == .conflict)
        #expect(try shard0.health().mapVersion == 5)
        // A search of a map the worker does not know is refused, not answered from the wrong entries.
        let options = SearchOptions(k: 1, nprobe: 1, mapVersion: 9)
        #expect(code { () throws(ClientError) in try shard0.call(.searchBatch(SmallData.batch(SmallData.queries), options: options)) }
                == .conflict)
    }

    @Test func exportsAndTransfersWithBadCountsAreRefusedAndChangeNothing() throws {
        let cluster = try InProcessCluster(workerCount: 2)
        let shard1 = worker(cluster, 1)
        #expect(code { () throws(ClientError) in try shard1.call(.shardExport(after: nil, limit: 10)) } == .conflict)   // no move
        // The next map drops shard 0 and adds shard 2: ids of shard 0 arrive here.
        _ = try shard1.call(.placementUpdate([Placement(version: 1, shards: [0, 1]), Placement(version: 2, shards: [1, 2])]))
        for limit in [0, -1, 1_000_000] {
            #expect(code { () throws(ClientError) in try shard1.call(.shardExport(after: nil, limit: limit)) } == .badRequest)
        }
        let version = try shard1.health().codebookVersion
        let good = ShardTransfer(codebookVersion: version, ids: [7, 8], lists: [0, 1], codes: [1, 2, 3, 4, 5, 6, 7, 8])
        var broken: [ShardTransfer] = []
        var t = good; t.lists = [0]; broken.append(t)
        t = good; t.codes = [1, 2, 3]; broken.append(t)
        t = good; t.lists = [0, 99]; broken.append(t)
        t = good; t.vectors = [1, 2]; broken.append(t)                     // this collection stores no vectors
        t = good; t.labeled = [true, false]; broken.append(t)              // flags without labels
        t = good; t.keys = ["only one"]; broken.append(t)
        t = good; t.ids = [7, 7]; broken.append(t)
        for transfer in broken {
            #expect(code { () throws(ClientError) in try shard1.call(.shardTransfer(transfer)) } == .badRequest, "\(transfer)")
        }
        t = good; t.codebookVersion = version &+ 1
        #expect(code { () throws(ClientError) in try shard1.call(.shardTransfer(t)) } == .conflict)

        guard case .shardFlow(let inventory) = try shard1.call(.shardFlow(FlowQuery(action: .inventory))) else {
            throw ClientError.unexpectedReply("")
        }
        #expect(inventory.flows.isEmpty)
        // A delete that overtakes the page carrying its id wins: the late copy is refused.
        let arriving = (UInt64(0) ..< 10_000).filter {
            Rendezvous.owner(of: $0, among: [ShardID(1), ShardID(2)]) == ShardID(1)
                && Rendezvous.owner(of: $0, among: [ShardID(0), ShardID(1)]) == ShardID(0)
        }.prefix(2).map { $0 }
        _ = try shard1.call(.delete(ids: [arriving[1]]))
        var late = good
        late.ids = arriving
        guard case .shardTransfer(let accepted) = try shard1.call(.shardTransfer(late)) else { throw ClientError.unexpectedReply("") }
        #expect(accepted == 1)
        guard case .fetchVectors(let fetched) = try shard1.call(.fetchVectors(ids: arriving)) else { throw ClientError.unexpectedReply("") }
        #expect(fetched.found == [arriving[0]])
        // A source may not drop its own entries.
        #expect(code { () throws(ClientError) in try shard1.call(.shardFlow(FlowQuery(action: .drop, fromShard: 1, toShard: 2))) }
                == .badRequest)
    }

    /// Two placements on real workers: pages leave the source, arrive at the target, digests
    /// agree, each map version reads every vector once, and the final map deletes the leftovers.
    @Test func aMoveBetweenTwoWorkersByHand() throws {
        let cluster = try InProcessCluster(workerCount: 1)
        let client = cluster.client()
        _ = try SmallData.add(SmallData.base.slice(0 ..< 800), to: client)
        let extra = try Worker(settings: WorkerSettings(cluster: "inproc", shard: ShardID(1), token: "in-process",
                                                        dataDirectory: "\(cluster.folder)/worker-1"), log: { _ in })
        cluster.network.listen("inproc://worker-1") { extra.handle($0) }
        let source = worker(cluster, 0)
        let target = ServiceClient(connection: cluster.network.connect("inproc://worker-1"), token: "in-process")
        let version = try source.health().codebookVersion
        _ = try target.call(.codebookPush(version: version, indexFile: SmallData.codebooks))
        let both = [Placement(version: 1, shards: [0]), Placement(version: 2, shards: [0, 1])]
        for shard in [source, target] { _ = try shard.call(.placementUpdate(both)) }

        var after: UInt64? = nil, moved: [UInt64] = []
        repeat {
            guard case .shardExport(let page) = try source.call(.shardExport(after: after, limit: 100)) else {
                throw ClientError.unexpectedReply("")
            }
            moved += page.entries.ids
            if !page.entries.ids.isEmpty { _ = try target.call(.shardTransfer(page.entries)) }
            after = page.next
        } while after != nil
        let owners = moved.map { Rendezvous.owner(of: $0, among: [ShardID(0), ShardID(1)]) }
        #expect(owners.allSatisfy { $0 == ShardID(1) } && abs(Double(moved.count) / 800 - 0.5) < 0.1)

        func digest(_ client: ServiceClient) throws -> FlowReply {
            guard case .shardFlow(let reply) = try client.call(.shardFlow(FlowQuery(action: .digest, fromShard: 0, toShard: 1))) else {
                throw ClientError.unexpectedReply("")
            }
            return reply
        }
        #expect(try digest(source) == digest(target))
        #expect(try digest(source).listCounts.reduce(0, +) == UInt32(moved.count))

        func ids(_ client: ServiceClient, _ version: UInt64) throws -> Set<UInt64> {
            let reply = try client.search(SmallData.batch(SmallData.queries),
                                          options: SearchOptions(k: 800, nprobe: 16, mapVersion: version))
            return Set(reply.results.flatMap(\.ids))
        }
        #expect(try ids(source, 1).count == 800 && ids(target, 1).isEmpty)
        #expect(try ids(source, 2).isDisjoint(with: ids(target, 2)))
        #expect(try ids(source, 2).union(ids(target, 2)).count == 800)

        // A failed copy is dropped at the target, then the digests disagree until it is sent again.
        _ = try target.call(.shardFlow(FlowQuery(action: .drop, fromShard: 0, toShard: 1)))
        #expect(try digest(target).listCounts.reduce(0, +) == 0 && digest(source) != digest(target))

        let sourceStore = try ShardDatabase(directory: "\(cluster.folder)/worker-0", cluster: "inproc", shard: 0)
        let leftover = try #require(try sourceStore.loadAll(dimension: 16).first { $0.id == moved[0] })
        guard case .placementUpdate(let counts) = try source.call(.placementUpdate([Placement(version: 2, shards: [0, 1])])) else {
            throw ClientError.unexpectedReply("")
        }
        // The leftovers are never served, and are deleted in the background.
        #expect(counts.unowned + counts.deleted == UInt64(moved.count) && counts.leaving == 0)
        #expect(try source.health().vectorCount == UInt64(800 - moved.count))
        let deadline = Date().addingTimeInterval(30)
        while try source.health().unownedCount > 0, Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        #expect(try source.health().unownedCount == 0)
        #expect(try sourceStore.loadAll(dimension: 16).count == 800 - moved.count)

        // A purge cut off by a stop resumes on the next start, and the leftover is never served.
        _ = try sourceStore.insert([leftover])
        let restarted = try Worker(settings: WorkerSettings(cluster: "inproc", shard: ShardID(0), token: "in-process",
                                                            dataDirectory: "\(cluster.folder)/worker-0"), log: { _ in })
        cluster.network.listen("inproc://worker-0-again") { restarted.handle($0) }
        let again = ServiceClient(connection: cluster.network.connect("inproc://worker-0-again"), token: "in-process")
        let served = try again.search(SmallData.batch(SmallData.queries), options: SearchOptions(k: 800, nprobe: 16))
        #expect(!served.results.flatMap(\.ids).contains(moved[0]))
        while try again.health().unownedCount > 0, Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        #expect(try again.health().unownedCount == 0 && sourceStore.loadAll(dimension: 16).count == 800 - moved.count)
    }

    @Test func clusterChangesAreCheckedBeforeAnythingMoves() throws {
        let cluster = try InProcessCluster(workerCount: 2, tokensTable: "[tokens]\nread = \"reader\"", moveStepPauseMilliseconds: 100)
        let admin = cluster.client()
        _ = try SmallData.add(SmallData.base.slice(0 ..< 200), to: admin)
        let reader = cluster.client(token: "reader")
        #expect(code { () throws(ClientError) in try reader.call(.clusterChange(ClusterChangeRequest(change: .removeWorker(shard: 1)))) }
                == .forbidden)
        #expect(try reader.clusterStatus().shards.count == 2)   // status is for readers too
        let cases: [(ClusterChange, ErrorCode)] = [
            (.removeWorker(shard: 7), .notFound),
            (.addWorker(url: cluster.workerURLs[1], host: ""), .conflict),    // its shard is in the map
            (.addWorker(url: "inproc://nobody", host: ""), .unavailable),
        ]
        for (change, expected) in cases {
            #expect(code { () throws(ClientError) in try admin.call(.clusterChange(ClusterChangeRequest(change: change))) } == expected,
                    "\(change)")
        }
        // A worker that holds vectors is not an empty new shard.
        let full = try Worker(settings: WorkerSettings(cluster: "inproc", shard: ShardID(5), token: "in-process",
                                                       dataDirectory: "\(cluster.folder)/worker-5"), log: { _ in })
        cluster.network.listen("inproc://worker-5") { full.handle($0) }
        let direct = ServiceClient(connection: cluster.network.connect("inproc://worker-5"), token: "in-process")
        let version = try admin.health().codebookVersion
        _ = try direct.call(.codebookPush(version: version, indexFile: SmallData.codebooks))
        _ = try direct.add(AddBatch(ids: [999_999], vectors: SmallData.batch(SmallData.base.slice(0 ..< 1)), codebookVersion: version))
        #expect(code { () throws(ClientError) in
            try admin.call(.clusterChange(ClusterChangeRequest(change: .addWorker(url: "inproc://worker-5", host: ""))))
        } == .conflict)
        #expect(try admin.clusterStatus().mapVersion == 1)
        // One move at a time; the last shard cannot be drained.
        _ = try admin.call(.clusterChange(ClusterChangeRequest(change: .removeWorker(shard: 1))))
        #expect(code { () throws(ClientError) in try admin.call(.clusterChange(ClusterChangeRequest(change: .removeWorker(shard: 0)))) }
                == .conflict)
        let deadline = Date().addingTimeInterval(20)
        while try admin.clusterStatus().move?.step != "done", Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        let status = try admin.clusterStatus()
        #expect(status.move?.step == "done" && status.shards.map(\.shard) == [0] && status.mapVersion == 2)
        #expect(try admin.stats().total == 200)
        #expect(code { () throws(ClientError) in try admin.call(.clusterChange(ClusterChangeRequest(change: .removeWorker(shard: 0)))) }
                == .badRequest)
    }
}

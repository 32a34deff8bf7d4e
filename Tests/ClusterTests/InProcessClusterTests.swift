import ClusterClient
import ClusterModel
import ServiceSupport
import ShardStore
import CoordinatorService
import Foundation
import Testing
import Transport
import VectorIndex
import VectorMath
import Wire
import WorkerService

/// A coordinator and its workers in one process, wired by `InProcessNetwork`: the same request
/// path as the real cluster (client → transport → coordinator → client → worker → index → merge)
/// without sockets or processes, so each test runs in a fraction of a second.
final class InProcessCluster: @unchecked Sendable {
    let network = InProcessNetwork()
    let folder: String
    let workerURLs: [String]
    var workers: [Worker] = []
    let coordinator: Coordinator
    let coordinatorURL = "inproc://coordinator"

    init(workerCount: Int, token: String = "in-process", tokensTable: String = "", moveStepPauseMilliseconds: Int = 0,
         batchWindowMicroseconds: Int = 0, codebooks: [UInt8] = SmallData.codebooks, indexKeys: String = "",
         replication: Int = 1, topLevel: String = "") throws {
        folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("sightline-inprocess-\(getpid())-\(UInt32.random(in: 0 ... .max))").path
        workerURLs = (0 ..< workerCount).map { "inproc://worker-\($0)" }
        for (shard, url) in workerURLs.enumerated() {
            let settings = WorkerSettings(cluster: "inproc", shard: ShardID(UInt32(shard / replication)), token: token,
                                          dataDirectory: "\(folder)/worker-\(shard)")
            let worker = try Worker(settings: settings, log: { _ in })
            workers.append(worker)
            network.listen(url) { worker.handle($0) }
        }
        var text = """
            cluster = "inproc"
            token = "\(token)"
            listen = "\(coordinatorURL)"
            data = "\(folder)/coordinator"
            search_batch_window_us = \(batchWindowMicroseconds)
            replication = \(replication)
            \(topLevel)
            [index]
            dimension = 16
            nlist = 16
            m = 4
            nprobe = 4
            \(indexKeys)
            \(tokensTable)

            """
        for (shard, url) in workerURLs.enumerated() { text += "[[workers]]\nshard = \(shard / replication)\nurl = \"\(url)\"\n" }
        let config = try ClusterConfig(parsing: text)
        let catalog = try CatalogDatabase(directory: config.dataDirectory, cluster: config.cluster)
        let network = self.network
        let thumbnails = try ThumbnailStore(directory: config.dataDirectory, cluster: config.cluster)
        var hooks = CoordinatorHooks()
        if moveStepPauseMilliseconds > 0 {
            let pause = Double(moveStepPauseMilliseconds) / 1000
            hooks.enteringMoveStep = { _ in Thread.sleep(forTimeInterval: pause) }
        }
        coordinator = try Coordinator(config: config, catalog: catalog, codebookFile: codebooks, thumbnails: thumbnails, hooks: hooks,
                                      dial: { network.connect($0) }, log: { _ in })
        network.listen(coordinatorURL) { [coordinator] in coordinator.handle($0) }
        coordinator.checkWorkers()
    }

    func client(token: String = "in-process", replyMarginMilliseconds: Int = 500) -> ServiceClient {
        ServiceClient(connection: network.connect(coordinatorURL), token: token, replyMarginMilliseconds: replyMarginMilliseconds)
    }

    deinit {
        coordinator.stop()
        try? FileManager.default.removeItem(atPath: folder)
    }
}

@Suite struct InProcessClusterTests {
    /// The merged answer equals one index holding every vector; with a worker gone the answer
    /// comes at once, partial, naming the missing shard.
    @Test func searchMergesShardsAndNamesAMissingShard() throws {
        let cluster = try InProcessCluster(workerCount: 3)
        let client = cluster.client()
        let (added, ignored) = try SmallData.add(SmallData.base, to: client)
        #expect(added == 3000 && ignored == 0)

        var single = try IndexFile.decode(SmallData.codebooks)
        try single.add(SmallData.base, ids: (0 ..< 3000).map { VectorID(UInt64($0)) })
        let expected = try single.search(SmallData.queries, parameters: SearchParameters(k: 10, probeCount: 4))
        let reply = try client.search(SmallData.batch(SmallData.queries), options: SearchOptions(k: 10, nprobe: 4))
        #expect(!reply.partial)
        #expect(reply.results.map(\.ids) == expected.map { $0.map(\.id.rawValue) })
        #expect(reply.results.map(\.distances) == expected.map { $0.map(\.distance) })

        cluster.network.close(cluster.workerURLs[1])
        let started = DispatchTime.now().uptimeNanoseconds
        let partial = try client.search(SmallData.batch(SmallData.queries), options: SearchOptions(k: 10, nprobe: 4),
                                        deadlineMilliseconds: 2000)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        #expect(partial.partial)
        #expect(partial.missingShards == [1])
        #expect(partial.results.allSatisfy { $0.ids.count == 10 })
        // An unreachable in-process worker fails at once, not at the deadline.
        #expect(seconds < 1, "took \(seconds) s")
    }

    /// A worker that never answers costs the search its deadline, no more, and is named.
    @Test func aHungWorkerIsMissingAfterTheDeadline() throws {
        let cluster = try InProcessCluster(workerCount: 2)
        // The coordinator answers at its 1 s deadline; the client waits longer than that so a
        // busy test machine cannot turn the partial answer into a client time-out.
        let client = cluster.client(replyMarginMilliseconds: 10_000)
        _ = try SmallData.add(SmallData.base.slice(0 ..< 500), to: client)
        let release = DispatchSemaphore(value: 0)
        cluster.network.listen(cluster.workerURLs[0]) { _ in
            _ = release.wait(timeout: .now() + 10)
            return []
        }
        defer { release.signal() }
        let reply = try client.search(SmallData.batch(SmallData.queries.slice(0 ..< 2)), options: SearchOptions(k: 5, nprobe: 4),
                                      deadlineMilliseconds: 1000)
        #expect(reply.partial)
        #expect(reply.missingShards == [0])
    }

    /// The shared gate: token and collection are checked before any work, on the coordinator
    /// and on a worker alike; a bad k is refused with the same words by both.
    @Test func theGateRefusesBadTokensAndOptionsEverywhere() throws {
        let cluster = try InProcessCluster(workerCount: 2)
        let query = SmallData.batch(SmallData.queries.slice(0 ..< 1))
        let worker = ServiceClient(connection: cluster.network.connect(cluster.workerURLs[0]), token: "in-process")
        for target in [cluster.client(token: "wrong"),
                       ServiceClient(connection: cluster.network.connect(cluster.workerURLs[0]), token: "")] {
            #expect(throws: ClientError.self) { _ = try target.search(query, options: SearchOptions(k: 1, nprobe: 1)) }
            do {
                _ = try target.call(.stats)
            } catch {
                #expect(error.kind == .unauthorized)
            }
        }
        for target in [cluster.client(), worker] {
            do {
                _ = try target.search(query, options: SearchOptions(k: 0, nprobe: 1))
                Issue.record("k = 0 must be refused")
            } catch {
                #expect(error.kind == .badInput)
                #expect(error.description.contains("k = 0 is out of range"))
            }
        }
    }

    /// Roles: a read token searches but cannot add; a write token adds but cannot push
    /// codebooks; client tokens mean nothing to a worker; a token is compared as bytes.
    @Test func eachTokenMayDoWhatItsRoleAllows() throws {
        let cluster = try InProcessCluster(workerCount: 2, tokensTable: "[tokens]\nread = \"reader\"\nwrite = \"writer\"")
        let query = SmallData.batch(SmallData.queries.slice(0 ..< 1))
        let batch = AddBatch(ids: [1, 2], vectors: SmallData.batch(SmallData.base.slice(0 ..< 2)))
        let reader = cluster.client(token: "reader"), writer = cluster.client(token: "writer")
        func refusal(_ body: () throws -> Void) -> String? {
            do {
                try body()
            } catch let error as ClientError {
                return [.unauthorized, .forbidden].contains(error.kind) ? error.reply.message : "\(error.kind): \(error)"
            } catch {
                return "\(error)"
            }
            return nil
        }
        #expect(refusal { _ = try writer.add(batch) } == nil)
        #expect(refusal { _ = try reader.search(query, options: SearchOptions(k: 1, nprobe: 4)) } == nil)
        #expect(refusal { _ = try writer.search(query, options: SearchOptions(k: 1, nprobe: 4)) } == nil)
        #expect(refusal { _ = try reader.add(batch) } == "a read token may not send add: it needs a write token")
        #expect(refusal { _ = try reader.call(.delete(ids: [1])) }?.contains("needs a write token") == true)
        #expect(refusal { _ = try writer.call(.codebookPush(version: 1, indexFile: [])) }?.contains("needs a cluster token") == true)
        #expect(refusal { _ = try cluster.client().call(.stats) } == nil)
        // A worker knows only the cluster's token.
        let workerAsWriter = ServiceClient(connection: cluster.network.connect(cluster.workerURLs[0]), token: "writer")
        #expect(refusal { _ = try workerAsWriter.call(.shardTransfer(ShardTransfer(codebookVersion: 0, ids: [], lists: [], codes: []))) }
            == "wrong token")
        // Bytes after a NUL count.
        #expect(refusal { _ = try cluster.client(token: "reader\0").search(query, options: SearchOptions(k: 1, nprobe: 4)) }
            == "wrong token")
    }

    /// A worker drops the rest of a batch once its deadline has passed, instead of computing
    /// answers nobody waits for.
    @Test func aWorkerDropsABatchWhoseDeadlinePassed() throws {
        let cluster = try InProcessCluster(workerCount: 1)
        _ = try SmallData.add(SmallData.base, to: cluster.client())
        let worker = ServiceClient(connection: cluster.network.connect(cluster.workerURLs[0]), token: "in-process",
                                   replyMarginMilliseconds: 30_000)
        // 20,000 queries (79 pieces of 256); the deadline is over long before the last.
        let queries = SmallData.batch(SmallData.queries)
        let many = VectorBatch(dimension: queries.dimension, values: Array([[Float]](repeating: queries.values, count: 400).joined()))
        do {
            _ = try worker.search(many, options: SearchOptions(k: 10, nprobe: 16), deadlineMilliseconds: 1)
            Issue.record("the worker answered a batch whose deadline had passed")
        } catch {
            #expect(error.reply.code == .deadlineExceeded, "\(error)")
        }
        #expect(try worker.search(SmallData.batch(SmallData.queries), options: SearchOptions(k: 10, nprobe: 16)).results.count == 50)
    }

    /// A push of other codebooks to a shard that holds vectors is refused before its bytes are
    /// decoded (garbage bytes get CONFLICT, not a decoding error), and a repeat of the current
    /// codebooks is accepted without decoding.
    @Test func codebookPushesAreCheckedBeforeDecoding() throws {
        let cluster = try InProcessCluster(workerCount: 1)
        _ = try SmallData.add(SmallData.base.slice(0 ..< 100), to: cluster.client())
        let worker = ServiceClient(connection: cluster.network.connect(cluster.workerURLs[0]), token: "in-process")
        let garbage = [UInt8](repeating: 0xAB, count: 1 << 16)
        do {
            _ = try worker.call(.codebookPush(version: 12345, indexFile: garbage))
            Issue.record("a conflicting push was accepted")
        } catch {
            #expect(error.reply.code == .conflict, "\(error)")
        }
        let current = codebookVersion(of: SmallData.codebooks)
        #expect((try? worker.call(.codebookPush(version: current, indexFile: garbage))) != nil)
    }
}


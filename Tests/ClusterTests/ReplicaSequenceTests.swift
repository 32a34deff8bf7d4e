import ClusterClient
import ClusterModel
import Foundation
import ServiceSupport
import Testing
import Transport
import Wire
import WorkerService

/// Numbered writes and catch-up pages on two copies of one shard, in process: a copy applies a
/// write only after the one it follows, a page pulled from a peer makes it equal (digests), and
/// malformed pages are refused without changing anything.
@Suite struct ReplicaSequenceTests {
    final class Copies {
        let network = InProcessNetwork()
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("sightline-copies-\(getpid())-\(UInt32.random(in: 0 ... .max))").path
        var clients: [ServiceClient] = []
        var workers: [Worker] = []
        var version: UInt64 = 0

        init() throws {
            for copy in 0 ..< 2 { try open(copy) }
            version = codebookVersion(of: SmallData.codebooks)
            for client in clients { _ = try client.call(.codebookPush(version: version, indexFile: SmallData.codebooks)) }
        }

        /// (Re)opens copy `copy` of shard 0 from its data directory.
        func open(_ copy: Int) throws {
            let worker = try Worker(settings: WorkerSettings(cluster: "copies", shard: ShardID(0), token: "t",
                                                             dataDirectory: "\(folder)/copy-\(copy)"), log: { _ in })
            network.listen("inproc://copy-\(copy)") { worker.handle($0) }
            let client = ServiceClient(connection: network.connect("inproc://copy-\(copy)"), token: "t")
            if copy < workers.count {
                workers[copy] = worker; clients[copy] = client
            } else {
                workers.append(worker); clients.append(client)
            }
        }

        func add(_ copy: Int, ids: Range<Int>, seq: UInt64, previous: UInt64) -> Result<ResponseBody, ClientError> {
            let batch = AddBatch(ids: ids.map { UInt64($0) }, vectors: SmallData.batch(SmallData.base.slice(ids)), codebookVersion: version)
            return clients[copy].start(.add(batch), deadlineMilliseconds: 5000,
                                       sequence: WriteSequence(seq: seq, previous: previous)).wait()
        }

        func digest(_ copy: Int) throws -> ReplicaPage {
            guard case .replicaPull(let page) = try clients[copy].call(.replicaPull(.digest)) else {
                throw ClusterTestError.notHealthy("digest")
            }
            return page
        }

        deinit { try? FileManager.default.removeItem(atPath: folder) }
    }

    static func isRefusal(_ result: Result<ResponseBody, ClientError>, saying words: String) -> Bool {
        if case .failure(.server(let reply)) = result { return reply.code == .conflict && reply.message.contains(words) }
        return false
    }

    @Test func aCopyAppliesOnlyTheWriteThatFollowsItsLast() throws {
        let copies = try Copies()
        #expect(try copies.add(0, ids: 0 ..< 10, seq: 5, previous: 0).get() == .add(added: 10, ignored: 0, ignoredIDs: []))
        #expect(Self.isRefusal(copies.add(0, ids: 10 ..< 20, seq: 5, previous: 0), saying: "already applied"))
        #expect(Self.isRefusal(copies.add(0, ids: 10 ..< 20, seq: 9, previous: 7), saying: "behind"))
        #expect(try copies.clients[0].health().vectorCount == 10)
        _ = try copies.add(0, ids: 10 ..< 20, seq: 9, previous: 5).get()
        guard case .delete(let deleted) = try copies.clients[0].start(.delete(ids: [3, 4, 500]), deadlineMilliseconds: 5000,
                                                                       sequence: WriteSequence(seq: 12, previous: 9)).wait().get() else {
            Issue.record("delete sent another reply")
            return
        }
        #expect(deleted == 2)
        // The last write applied survives a restart.
        try copies.open(0)
        #expect(try copies.clients[0].health().lastSeq == 12)
        // Copy 1 missed all three: it is behind, and catches up from copy 0's log.
        #expect(Self.isRefusal(copies.add(1, ids: 20 ..< 30, seq: 13, previous: 12), saying: "behind"))
        var last: UInt64 = 0
        while true {
            guard case .replicaPull(let page) = try copies.clients[0].call(.replicaPull(.log(afterSeq: last, limit: 7))) else { break }
            if page.upToSeq <= last { break }
            #expect(page.entries.ids.count + page.absentIDs.count <= 10, "pages hold whole writes, about `limit` ids")
            guard case .replicaApply(let applied) = try copies.clients[1].call(.replicaApply(
                ReplicaApply(entries: page.entries, absentIDs: page.absentIDs, upToSeq: page.upToSeq))) else { break }
            last = applied
        }
        #expect(last == 12)
        let (theirs, mine) = (try copies.digest(0), try copies.digest(1))
        #expect(mine.listCounts == theirs.listCounts && mine.listDigests == theirs.listDigests && mine.lastSeq == 12)
        #expect(mine.listCounts.reduce(0, +) == 18)
        // Now both take the next write.
        for copy in 0 ..< 2 { _ = try copies.add(copy, ids: 20 ..< 30, seq: 13, previous: 12).get() }
        #expect(try copies.digest(0).listDigests == copies.digest(1).listDigests)
    }

    @Test func aFullCopyResetsTheLogAndBadPagesChangeNothing() throws {
        let copies = try Copies()
        _ = try copies.add(0, ids: 0 ..< 40, seq: 1, previous: 0).get()
        _ = try copies.add(1, ids: 100 ..< 110, seq: 1, previous: 0).get()  // a copy that diverged
        guard case .replicaPull(let first) = try copies.clients[0].call(.replicaPull(.full(afterID: nil, limit: 25))),
              case .replicaPull(let second) = try copies.clients[0].call(.replicaPull(.full(afterID: first.nextAfterID, limit: 25))) else {
            Issue.record("no full pages")
            return
        }
        #expect(first.entries.ids.count == 25 && first.nextAfterID != nil && second.entries.ids.count == 15 && second.nextAfterID == nil)
        _ = try copies.clients[1].call(.replicaApply(ReplicaApply(entries: first.entries, upToSeq: first.lastSeq, reset: true)))
        _ = try copies.clients[1].call(.replicaApply(ReplicaApply(entries: second.entries, upToSeq: first.lastSeq)))
        #expect(try copies.digest(1).listDigests == copies.digest(0).listDigests)
        // Its log starts at the copy: older writes are not there to pull.
        #expect(throws: ClientError.self) { try copies.clients[1].call(.replicaPull(.log(afterSeq: 0, limit: 10))) }

        // A page whose counts disagree, or that repeats an absent id, is refused and nothing changes.
        var broken = second.entries
        broken.lists.removeLast()
        let before = try copies.digest(1)
        for page in [ReplicaApply(entries: broken, upToSeq: 99), ReplicaApply(entries: first.entries, absentIDs: [7, 7], upToSeq: 99)] {
            #expect(throws: ClientError.self) { try copies.clients[1].call(.replicaApply(page)) }
        }
        #expect(try copies.digest(1) == before)
        // A page size out of range is refused when the frame is decoded; the worker goes on serving.
        for limit in [0, ReplicaPull.maxPage + 1] {
            for pull in [ReplicaPull.log(afterSeq: 0, limit: limit), .full(afterID: nil, limit: limit)] {
                #expect(throws: ClientError.self) { try copies.clients[0].call(.replicaPull(pull)) }
            }
        }
        #expect(try copies.clients[0].health().vectorCount == 40)
        // A write token may not pull or apply pages (they are the cluster's own traffic).
        let outsider = ServiceClient(connection: copies.network.connect("inproc://copy-0"), token: "wrong")
        #expect(throws: ClientError.self) { try outsider.call(.replicaPull(.digest)) }
    }
}

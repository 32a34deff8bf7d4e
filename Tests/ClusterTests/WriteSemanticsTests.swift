import ClusterClient
import ClusterModel
import Foundation
import ServiceSupport
import Testing
import VectorMath
import Wire

/// What a client learns from an add that not every shard committed, and when labels change.
@Suite struct WriteSemanticsTests {
    /// Answers adds with `error` and passes every other request to `worker`.
    static func failingAdds(_ error: ErrorReply, else worker: @escaping @Sendable ([UInt8]) -> [UInt8]) -> @Sendable ([UInt8]) -> [UInt8] {
        { frame in
            guard let request = try? WireCodec.decodeRequest(frame), case .add = request.body else { return worker(frame) }
            return WireCodec.encode(Response(requestID: request.envelope.requestID, body: .error(error)))
        }
    }

    func failure(_ body: () throws -> Void) -> ErrorReply? {
        do { try body() } catch ClientError.server(let reply) { return reply } catch { Issue.record("\(error)") }
        return nil
    }

    @Test func aFailedAddNamesWhatCommittedAndSaysWhetherARetryCanPass() throws {
        let cluster = try InProcessCluster(workerCount: 3)
        let client = cluster.client()
        let worker = cluster.workers[1]
        let ids = (UInt64(0) ..< 30).map { $0 }
        let batch = AddBatch(ids: ids, vectors: SmallData.batch(SmallData.base.slice(0 ..< 30)))
        let shards = (0 ..< 3).map { ShardID(UInt32($0)) }
        let elsewhere = ids.filter { Rendezvous.owner(of: $0, among: shards) != ShardID(1) }
        try #require(!elsewhere.isEmpty && elsewhere.count < ids.count)

        // A shard that refuses for a reason a retry cannot change: its code, not "unavailable".
        let conflicting = Self.failingAdds(ErrorReply(.conflict, "other codebooks")) { worker.handle($0) }
        cluster.network.listen(cluster.workerURLs[1], handler: conflicting)
        let conflict = try #require(failure { _ = try client.add(batch) })
        #expect(conflict.code == .conflict && !conflict.message.contains("retry"), "\(conflict)")
        #expect(conflict.committedIDs == elsewhere)
        #expect(conflict.message.contains("\(elsewhere.count) of 30 ids committed"), "\(conflict.message)")

        // A shard that may pass later, or that cannot be reached: unavailable, and worth a retry.
        cluster.network.listen(cluster.workerURLs[1], handler: Self.failingAdds(ErrorReply(.unavailable, "busy")) { worker.handle($0) })
        let busy = try #require(failure { _ = try client.add(batch) })
        #expect(busy.code == .unavailable && busy.message.contains("retry") && busy.committedIDs == elsewhere, "\(busy)")
        cluster.network.close(cluster.workerURLs[1])
        let gone = try #require(failure { _ = try client.add(batch, deadlineMilliseconds: 300) })
        #expect(gone.code == .unavailable && gone.committedIDs == elsewhere, "\(gone)")

        // The retry stores exactly the rest.
        cluster.network.listen(cluster.workerURLs[1]) { worker.handle($0) }
        cluster.coordinator.checkWorkers()
        let retried = try client.add(batch)
        #expect(retried.added == UInt64(ids.count - elsewhere.count) && retried.ignored == UInt64(elsewhere.count))
    }

    @Test func aRepeatedAddChangesNoLabelOrKey() throws {
        let cluster = try InProcessCluster(workerCount: 2)
        let client = cluster.client()
        let vectors = SmallData.batch(SmallData.base.slice(0 ..< 5))
        let ids = (UInt64(100) ..< 105).map { $0 }
        _ = try client.add(AddBatch(ids: ids, vectors: vectors, labels: Array(repeating: 1, count: 5), keys: ids.map { "first-\($0)" }))
        let repeated = try client.add(AddBatch(ids: ids, vectors: vectors, labels: Array(repeating: 2, count: 5),
                                               keys: ids.map { "second-\($0)" }))
        #expect(repeated.added == 0 && repeated.ignored == 5)
        func identify(_ row: Int) throws -> IdentifyReply {
            guard case .identify(let reply) = try client.call(.identify(vector: Array(SmallData.base.row(row)), threshold: 1e9, nprobe: 16))
            else { throw ClientError.unexpectedReply("not identify") }
            return reply
        }
        for row in 0 ..< 5 {
            let found = try identify(row)
            #expect(found.found && found.id == ids[row] && found.label == 1 && found.key == "first-\(ids[row])", "\(found)")
        }
        // A delete and an add store the id again: the new label and key count.
        _ = try client.call(.delete(ids: [ids[0]]))
        _ = try client.add(AddBatch(ids: [ids[0]], vectors: SmallData.batch(SmallData.base.slice(0 ..< 1)), labels: [3], keys: ["third"]))
        let again = try identify(0)
        #expect(again.label == 3 && again.key == "third", "\(again)")
    }
}

extension WriteSemanticsTests {
    /// The shards commit an add before the coordinator records its labels, keys and thumbnails;
    /// a coordinator killed between the two left ids stored with no metadata, and the retried add
    /// counted them as present and recorded nothing (6,000 ids lost their labels for good). The
    /// window is made here without a crash: the worker takes the ids directly, as a first add
    /// that reached the shards and died before the catalog would. The retry must complete them,
    /// and still never change metadata that is whole.
    @Test func aRetriedAddCompletesTheLabelsOfIdsItsFirstTryStored() throws {
        let cluster = try InProcessCluster(workerCount: 1)
        let client = cluster.client()
        let worker = ServiceClient(connection: cluster.network.connect(cluster.workerURLs[0]), token: "in-process")
        let ids = (UInt64(200) ..< 210).map { $0 }
        let vectors = SmallData.batch(SmallData.base.slice(0 ..< 10))
        let version = codebookVersion(of: SmallData.codebooks)
        _ = try worker.add(AddBatch(ids: Array(ids.prefix(6)), vectors: SmallData.batch(SmallData.base.slice(0 ..< 6)),
                                    codebookVersion: version))
        _ = try client.add(AddBatch(ids: [ids[0]], vectors: SmallData.batch(SmallData.base.slice(0 ..< 1)), labels: [5], keys: ["whole"]))
        // ids[0] now has metadata from a complete add; ids[1 ..< 6] are stored without any.
        let retried = try client.add(AddBatch(ids: ids, vectors: vectors, labels: ids.map { Int32($0) }, keys: ids.map { "key-\($0)" }))
        #expect(retried.added == 4 && retried.ignored == 6, "\(retried)")
        for row in 0 ..< 10 {
            guard case .identify(let found) = try client.call(.identify(vector: Array(SmallData.base.row(row)), threshold: 1e9, nprobe: 16))
            else { Issue.record("not identify"); continue }
            #expect(found.found && found.id == ids[row], "\(found)")
            if row == 0 {
                #expect(found.label == 5 && found.key == "whole", "a repeat changed whole metadata: \(found)")
            } else {
                #expect(found.label == Int32(ids[row]) && found.key == "key-\(ids[row])", "row \(row): \(found)")
            }
        }
    }
}

/// Backup requests a peer gets wrong: typed errors, nothing read, and the cluster still serves.
@Suite struct BackupRequestTests {
    @Test func badBackupReadsAreRefusedAndTheClusterServes() throws {
        let cluster = try InProcessCluster(workerCount: 2, tokensTable: "[tokens]\nread = \"reader\"")
        let client = cluster.client()
        _ = try SmallData.add(SmallData.base.slice(0 ..< 200), to: client)
        func code(_ client: ServiceClient, _ step: BackupStep) -> ErrorCode? {
            do { _ = try client.call(.backup(step)) } catch { if case .server(let reply) = error { return reply.code } }
            return nil
        }
        #expect(code(cluster.client(token: "reader"), .snapshot) == .forbidden)      // backups need the cluster token
        #expect(code(client, .read(shard: nil, offset: 0, length: 100)) == .notFound)   // no snapshot yet
        #expect(code(client, .read(shard: 1, offset: 0, length: 100)) != nil)           // nor at a worker
        guard case .backup(.parts(let parts)) = try client.call(.backup(.snapshot)) else { throw ClientError.unexpectedReply("") }
        #expect(parts.count == 3 && parts[0].shard == nil)
        #expect(code(client, .read(shard: 7, offset: 0, length: 100)) == .notFound)     // not in the map
        #expect(code(client, .read(shard: nil, offset: parts[0].bytes + 1, length: 100)) == .badRequest)
        guard case .backup(.data(let tail)) = try client.call(.backup(.read(shard: 1, offset: parts[2].bytes - 10, length: 100)))
        else { throw ClientError.unexpectedReply("") }
        #expect(tail.count == 10)
        _ = try client.call(.backup(.finish))
        let after = try client.search(SmallData.batch(SmallData.queries.slice(0 ..< 2)), options: SearchOptions(k: 5, nprobe: 4))
        #expect(after.results.count == 2 && !after.partial)
    }
}

import ClusterClient
import ClusterModel
import Foundation
import ServiceSupport
import Testing
import Transport
import VectorIndex
import VectorMath
import Wire

/// Peers that send what no honest client sends, against real processes: each case was a crash
/// or an unbounded cost before, and must now be a typed error with every process still serving.
@Suite(.serialized) struct HostilePeerTests {
    /// Peak resident memory of a process, from /proc (kB → bytes).
    static func peakResidentBytes(_ pid: Int32) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
        return kilobytes * 1024
    }

    /// A valid health request followed by ~20 million unknown 3-byte fields: 60 MB.
    static func paddedFrame(token: String) -> [UInt8] {
        var frame = WireCodec.encode(Request(envelope: Envelope(requestID: 5, token: token), body: .health))
        let fields = 20_000_000
        frame.reserveCapacity(frame.count + 3 * fields)
        for _ in 0 ..< fields { frame += [0xA0, 0x06, 0x00] }
        return frame
    }

    /// Unauthenticated 60 MB frames cost a glance at the envelope, not an unpack (which took
    /// 2.9 GB and 10 s before).
    @Test func unauthenticatedHugeFramesAreRefusedCheaply() throws {
        let cluster = try LocalCluster(name: "hostile-auth", workerCount: 1, index: (16, 16, 4), codebooks: SmallData.codebooks)
        defer { cluster.stop() }
        try cluster.start()
        let frame = Self.paddedFrame(token: "")
        let before = Self.peakResidentBytes(cluster.coordinator!.processIdentifier)
        let raw = try cluster.client(token: "")
        for _ in 0 ..< 3 {
            let started = Date()
            let response = try raw.callRaw(frame, timeoutMilliseconds: 20_000)
            guard case .error(let reply) = response.body else { Issue.record("a frame without a token was served"); continue }
            #expect(reply.code == .unauthorized)
            #expect(response.requestID == 5)
            #expect(Date().timeIntervalSince(started) < 5)
        }
        let peak = Self.peakResidentBytes(cluster.coordinator!.processIdentifier)
        // nng holds the received frame (60 MB) and its copy; an unpack would add gigabytes.
        #expect(peak < 600 << 20, "coordinator peak RSS \(peak >> 20) MiB (was \(before >> 20) MiB before the frames)")
        #expect(try cluster.client().health().state == "serving")
    }

    /// With the token: the same frame meets the unpack budget instead of taking the machine.
    @Test func authenticatedHugeFramesMeetTheMemoryBudget() throws {
        let cluster = try LocalCluster(name: "hostile-budget", workerCount: 1, index: (16, 16, 4), codebooks: SmallData.codebooks)
        defer { cluster.stop() }
        try cluster.start()
        let response = try cluster.client().callRaw(Self.paddedFrame(token: cluster.token), timeoutMilliseconds: 20_000)
        guard case .error(let reply) = response.body else { Issue.record("the padded frame was served"); return }
        #expect(reply.code == .badRequest)
        #expect(reply.message.contains("memory"), "\(reply.message)")
        #expect(Self.peakResidentBytes(cluster.coordinator!.processIdentifier) < 800 << 20)
        #expect(try cluster.client().health().state == "serving")
    }

    /// Requests that trapped a worker or the coordinator: fewer labels than ids in a transfer,
    /// a codebook whose list claims 2^63 entries, refine = 2^32 − 1, k × queries beyond reason.
    @Test func craftedRequestsAreTypedErrorsAndNobodyDies() throws {
        let cluster = try LocalCluster(name: "hostile-crash", workerCount: 2, index: (16, 16, 4), codebooks: SmallData.codebooks)
        defer { cluster.stop() }
        try cluster.start()
        let worker = try ServiceClient(url: cluster.workerURLs[0], token: cluster.token)
        let coordinator = try cluster.client()
        let version = codebookVersion(of: SmallData.codebooks)

        func expectRefused(_ code: ErrorCode, _ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) {
            do {
                try body()
                Issue.record("accepted", sourceLocation: sourceLocation)
            } catch ClientError.server(let reply) {
                #expect(reply.code == code, "\(reply)", sourceLocation: sourceLocation)
            } catch {
                Issue.record("unexpected \(error)", sourceLocation: sourceLocation)
            }
        }
        let transfer = ShardTransfer(codebookVersion: version, ids: [1, 2, 3], lists: [0, 1, 2], codes: [UInt8](repeating: 0, count: 12),
                                     labels: [7])
        expectRefused(.badRequest) { _ = try worker.call(.shardTransfer(transfer)) }

        let crafted = CraftedIndexFile.listClaiming(1 << 63, in: SmallData.codebooks)
        expectRefused(.badRequest) { _ = try worker.call(.codebookPush(version: codebookVersion(of: crafted), indexFile: crafted)) }

        let query = SmallData.batch(SmallData.queries.slice(0 ..< 1))
        for target in [worker, coordinator] {
            expectRefused(.badRequest) { _ = try target.search(query, options: SearchOptions(k: 10, nprobe: 1, refine: 4_294_967_295)) }
        }
        // 250 queries × k 10,000 = 2.5 million result slots.
        let queries = SmallData.batch(SmallData.queries.slice(0 ..< 50))
        let many = VectorBatch(dimension: queries.dimension, values: Array([[Float]](repeating: queries.values, count: 5).joined()))
        expectRefused(.badRequest) { _ = try coordinator.search(many, options: SearchOptions(k: 10_000, nprobe: 1)) }
        expectRefused(.badRequest) {
            _ = try coordinator.search(query, options: SearchOptions(k: 1, nprobe: 1), deadlineMilliseconds: 3_600_000)
        }

        // Every process still serves.
        #expect(try worker.health().state == "serving")
        _ = try SmallData.add(SmallData.base.slice(0 ..< 200), to: coordinator)
        #expect(try coordinator.search(query, options: SearchOptions(k: 5, nprobe: 4)).results[0].ids.count == 5)
        for (shard, process) in cluster.workers { #expect(process.isRunning, "worker \(shard) died") }
        #expect(cluster.coordinator?.isRunning == true)
    }

    /// A process answering on a worker's address with absurd counts and short vectors: the
    /// coordinator adds without trapping and checks before slicing.
    @Test func aLyingWorkerCannotCrashTheCoordinator() throws {
        let cluster = try LocalCluster(name: "hostile-liar", workerCount: 2, index: (16, 16, 4), codebooks: SmallData.codebooks)
        defer { cluster.stop() }
        let version = codebookVersion(of: SmallData.codebooks)
        let liar = try ReplyServer(listen: cluster.workerURLs[1], receiveLimit: 1 << 26, workerCount: 2) { frame in
            guard let request = try? WireCodec.decodeRequest(frame) else { return [] }
            let body: ResponseBody
            switch request.body {
            case .health:
                body = .health(HealthReply(cluster: cluster.clusterName, shard: 1, codebookVersion: version, vectorCount: .max,
                                           state: "serving"))
            case .stats:
                var stats = ShardStatsReply()
                stats.vectorCount = .max
                body = .stats(shards: [stats], totalVectors: .max)
            case .searchBatch(let batch, _):
                body = .searchBatch(SearchReply(results: Array(repeating: NeighborList(ids: [], distances: []), count: batch.count)))
            case .add(let batch):
                body = .add(added: .max, ignored: .max - UInt64(batch.ids.count) + 1, ignoredIDs: Array(repeating: 7, count: 100_000))
            case .fetchVectors(let ids):
                body = .fetchVectors(FetchedVectors(dimension: 16, found: ids, values: [1, 2, 3], approximate: false))
            default:
                body = .error(ErrorReply(.badRequest, "no"))
            }
            return WireCodec.encode(Response(requestID: request.envelope.requestID, body: body))
        }
        liar.start()
        defer { liar.close() }
        try cluster.startWorker(0)
        try cluster.startCoordinator()
        try cluster.waitUntilHealthy()
        let client = try cluster.client()
        _ = try? SmallData.add(SmallData.base.slice(0 ..< 300), to: client)
        _ = try? SmallData.add(SmallData.base.slice(0 ..< 300), to: client)
        #expect(try client.stats().total == .max)
        let query = SmallData.batch(SmallData.queries.slice(0 ..< 2))
        #expect(try client.search(query, options: SearchOptions(k: 5, nprobe: 4)).results.count == 2)
        // Ids on the liar's shard come back with three values instead of sixteen.
        let onLiar = (0 ..< 300).map(UInt64.init).filter { ClusterModelRouting.owner(of: $0, shards: 2) == 1 }
        do {
            _ = try client.call(.verify(.ids(a: onLiar[0], b: onLiar[1], threshold: 1)))
            Issue.record("verify sliced a short reply")
        } catch {
            #expect(error.reply.code == .internalError, "\(error)")
        }
        #expect(cluster.coordinator?.isRunning == true)
        #expect(try client.health().cluster == cluster.clusterName)
    }
}

/// Index files edited the way an attacker would, checksums recomputed so only the lie remains.
enum CraftedIndexFile {
    /// `file` (a trained, empty index) with its first list claiming `count` entries and the header
    /// claiming as many vectors.
    static func listClaiming(_ count: UInt64, in file: [UInt8]) -> [UInt8] {
        var bytes = file
        func put(_ value: UInt64, at offset: Int) {
            for i in 0 ..< 8 { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
        }
        func put32(_ value: UInt32, at offset: Int) {
            for i in 0 ..< 4 { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(i))) }
        }
        // Header (version 2): magic 4, version 4, metric 1, flags 1, bits 1, d 4, nlist 4, m 4, count 8, CRC 4.
        put(count, at: 23)
        put32(bytes.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[0 ..< 31])) }, at: 31)
        let list = bytes.count - 4 - 8 * nlist(file) - 4  // "LIST", counts, CRC at the end
        put(count, at: list + 4)
        put32(bytes.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[list ..< bytes.count - 4])) }, at: bytes.count - 4)
        return bytes
    }

    static func nlist(_ file: [UInt8]) -> Int { (0 ..< 4).reduce(0) { $0 | Int(file[15 + $1]) << (8 * $1) } }
}

/// Which of `shards` shards (ids 0…shards−1) owns an id, as the coordinator routes it.
enum ClusterModelRouting {
    static func owner(of id: UInt64, shards: Int) -> Int {
        Int(Rendezvous.owner(of: id, among: (0 ..< shards).map { ShardID(UInt32($0)) }).rawValue)
    }
}

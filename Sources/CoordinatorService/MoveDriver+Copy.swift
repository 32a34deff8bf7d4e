import ClusterModel
import Dispatch
import ShardStore
import Synchronization
import VectorIndex
import Wire

/// The move's copy step: what moves (counted by the sources), and the pages of leaving entries
/// from each source to the targets that own them in the next map.
extension MoveDriver {
    /// Entries that move, by (source, target), counted by the sources.
    func inventory() throws -> [Flow] {
        let sources = directory.withLock { $0.fromMap?.placementShards ?? [] }.map { ShardID($0) }
        var flows: [Flow] = []
        let inventories = Dictionary(uniqueKeysWithValues: sources.map { ($0, RequestBody.shardFlow(FlowQuery(action: .inventory))) })
        for (shard, reply) in shardCalls.fanOut(inventories, deadlineMilliseconds: 60_000).sorted(by: { $0.key < $1.key }) {
            guard case .success(.shardFlow(let reply)) = reply else {
                throw ErrorReply(.unavailable, "shard \(shard) sent no inventory: \(ShardCalls.failureMessage(reply))")
            }
            flows += reply.flows.filter { $0.from == shard.rawValue && $0.to != shard.rawValue }
        }
        return flows
    }

    /// Copies every source's leaving entries page by page, resuming at the journaled cursor.
    /// A source exports its next page while the targets store the current one. Writes go on
    /// meanwhile: a target refuses copies of ids deleted during the move, and verify catches
    /// anything else. A source's copies are equal, so any in-sync one exports; a replicated
    /// target takes each page as a numbered write on every in-sync copy.
    @discardableResult
    func copyMovePages(_ move: MoveRecord) throws -> UInt64 {
        let (sources, targets) = directory.withLock { ($0.fromMap?.placementShards ?? [], $0.toMap?.placementShards ?? []) }
        var copied = directory.withLock { $0.move?.copied ?? 0 }
        var copiedNow: UInt64 = 0
        for source in sources.map({ ShardID($0) }) {
            var (after, done) = try catalog.moveCursor(move, source: source.rawValue)
            guard !done else { continue }
            let pageSize = MoveDriver.pageSize(rate: move.rate)
            var page = try exportPage(from: source, after: after, limit: pageSize)
            while true {
                if stopping.load(ordering: .relaxed) { throw ErrorReply(.unavailable, "the coordinator is stopping") }
                guard directory.withLock({ $0.move?.toVersion }) == move.toVersion else {
                    throw ErrorReply(.conflict, "the move to map \(move.toVersion) was aborted")
                }
                let started = clock.now()
                let calls = try transferCalls(page, from: source, targets: targets)
                // The source exports its next page while the targets' copies store this one.
                let nextPage = Mutex<Result<ResponseBody, ErrorReply>?>(nil)
                let exporting = DispatchGroup()
                if let next = page.next {
                    exporting.enter()
                    DispatchQueue.global().async { [shardCalls] in
                        let reply = shardCalls.fanOut([source: .shardExport(after: next, limit: pageSize)], deadlineMilliseconds: 60_000)
                        nextPage.withLock { $0 = reply[source] }
                        exporting.leave()
                    }
                }
                // Numbered writes at a replicated target: every in-sync copy applies the page.
                let replies = writer.write(calls, deadlineMilliseconds: 60_000)
                exporting.wait()
                for (call, reply) in zip(calls, replies) {
                    guard case .success(.shardTransfer) = reply else {
                        throw ErrorReply(.unavailable, "shard \(call.shard) did not take a page from shard \(source): "
                                                       + ShardCalls.failureMessage(reply))
                    }
                }
                (after, done) = (page.next ?? after, page.next == nil)
                try catalog.setMoveCursor(move, source: source.rawValue, after: after, done: done)
                copied = copied.saturatingAdd(UInt64(page.entries.ids.count))
                copiedNow = copiedNow.saturatingAdd(UInt64(page.entries.ids.count))
                let total = directory.withLock { $0.move?.total ?? 0 }
                try catalog.setMoveProgress(move, copied: copied, total: total)
                directory.withLock { $0.move?.copied = copied }
                // `--rate`: the page's entries take at least entries / rate seconds.
                if let until = MovePacing.pageEnd(started: started, entries: page.entries.ids.count, rate: move.rate) {
                    clock.sleep(until: until)
                }
                if done { break }
                page = try checkedPage(nextPage.withLock { $0 } ?? .failure(ErrorReply(.unavailable, "no reply")), from: source)
            }
        }
        return copiedNow
    }

    func exportPage(from source: ShardID, after: UInt64?, limit: Int = MoveDriver.movePageSize) throws -> ExportPage {
        try checkedPage(shardCalls.fanOut([source: .shardExport(after: after, limit: limit)], deadlineMilliseconds: 60_000)[source]!,
                        from: source)
    }

    /// Entries a copy page carries: a rate-limited move sends about four pages a second, so its
    /// progress counts what has arrived rather than a whole page ahead of the pacing.
    static func pageSize(rate: UInt32) -> Int {
        rate == 0 ? movePageSize : max(16, min(movePageSize, Int(rate) / 4))
    }

    /// The page in an export reply, its counts checked (it comes from a peer) before anything
    /// is sliced by them.
    func checkedPage(_ reply: Result<ResponseBody, ErrorReply>, from source: ShardID) throws -> ExportPage {
        guard case .success(.shardExport(let page)) = reply else {
            throw ErrorReply(.unavailable, "shard \(source) did not export: \(ShardCalls.failureMessage(reply))")
        }
        let entries = page.entries
        let n = entries.ids.count, m = template.codeSize, dimension = template.dimension
        guard n <= MoveDriver.movePageSize, entries.lists.count == n, entries.codes.count == n * m,
              entries.labels.isEmpty || entries.labels.count == n, entries.labeled.isEmpty || entries.labeled.count == n,
              entries.keys.isEmpty || entries.keys.count == n, entries.vectors.isEmpty || entries.vectors.count == n * dimension else {
            throw ErrorReply(.internalError, "shard \(source) exported a malformed page of \(n) entries")
        }
        return page
    }

    /// One transfer per target of the page's entries (placed by the next map).
    func transferCalls(_ page: ExportPage, from source: ShardID, targets: [UInt32]) throws -> [(shard: ShardID, body: RequestBody)] {
        let entries = page.entries
        let m = template.codeSize, dimension = template.dimension
        let shards = targets.map { ShardID($0) }
        var rowsByTarget: [ShardID: [Int]] = [:]
        for (row, id) in entries.ids.enumerated() { rowsByTarget[Rendezvous.owner(of: id, among: shards), default: []].append(row) }
        return try rowsByTarget.keys.sorted().map { target in
            guard target != source else { throw ErrorReply(.internalError, "shard \(source) exported entries it keeps") }
            let rows = rowsByTarget[target]!
            return (target, .shardTransfer(ShardTransfer(
                codebookVersion: entries.codebookVersion, ids: rows.map { entries.ids[$0] }, lists: rows.map { entries.lists[$0] },
                codes: rows.flatMap { entries.codes[$0 * m ..< ($0 + 1) * m] },
                labels: entries.labels.isEmpty ? [] : rows.map { entries.labels[$0] },
                labeled: entries.labeled.isEmpty ? [] : rows.map { entries.labeled[$0] },
                keys: entries.keys.isEmpty ? [] : rows.map { entries.keys[$0] },
                vectors: entries.vectors.isEmpty ? [] : rows.flatMap { entries.vectors[$0 * dimension ..< ($0 + 1) * dimension] })))
        }
    }
}

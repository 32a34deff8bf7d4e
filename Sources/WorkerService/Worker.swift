import ClusterModel
import ProcessRuntime
import Foundation
import Quantization
import ServiceSupport
import ShardStore
import Synchronization
import VectorIndex
import VectorMath
import Wire

/// One shard: its durable store, its in-memory IVF-PQ index and the request handler.
///
/// Searches read a snapshot of the index (a value) taken under `index`'s lock, so they never wait
/// for each other; writes are serialised by `writeLock` and become visible only after the SQLite
/// transaction has committed.
public final class Worker: Sendable {
    public let settings: WorkerSettings
    let store: ShardDatabase
    let index = Mutex<ShardIndex?>(nil)
    let writeLock = Mutex<Void>(())
    /// The sequence number of the last replicated write applied (changed under `writeLock`).
    let appliedSeq: Mutex<UInt64>
    let latencies = LatencyRecorder()
    /// Ids deleted here during a move while absent: a copy of them that arrives later is stale
    /// and refused (a delete may overtake the page that carries the id).
    let tombstones = Mutex<Set<UInt64>>([])
    static let maxTombstones = 1 << 20
    /// Moves run here, at the lowest priority: a move takes the CPU that searches leave idle.
    let moveLane = BackgroundLane(name: "sightline-move")
    let log: @Sendable (String) -> Void
    let gate: RequestGate
    /// Queries searched between two deadline checks (a multiple of the index's chunk of 32).
    static let searchPiece = 256

    /// Opens the store in the data directory and reloads every stored vector into memory.
    public init(settings: WorkerSettings, log: @escaping @Sendable (String) -> Void) throws {
        self.settings = settings
        self.log = log
        // A worker hears only the coordinator: the cluster token is the one it accepts.
        gate = RequestGate(tokens: AccessTokens(cluster: settings.token), collection: settings.collection,
                           maxFrameBytes: settings.maxFrameBytes)
        store = try ShardDatabase(directory: settings.dataDirectory, cluster: settings.cluster, shard: settings.shard.rawValue,
                                  logWindowIDs: settings.replicaLogWindowIDs)
        appliedSeq = Mutex(try store.lastSeq())
        if let (version, file) = try store.codebook() {
            var loaded = ShardIndex(version: version, template: try IndexFile.decode(file), placement: try storedPlacement())
            let entries = try store.loadAll(dimension: loaded.template.dimension)
            try loaded.load(entries)
            install(loaded)
            log("shard \(settings.shard): loaded \(entries.count) vectors, codebook \(String(version, radix: 16))")
            // A purge cut off by a stop resumes (what is unowned is never served meanwhile).
            if loaded.placement.placements.count == 1, loaded.count(.unowned) > 0 { moveLane.submit { [self] in purgeUnowned() } }
        } else {
            log("shard \(settings.shard): no codebook yet; waiting for the coordinator to push one")
        }
    }

    /// Answers one frame: the shared gate checks it, `respond` runs it. Searches are timed for
    /// the stats reply.
    public func handle(_ frame: [UInt8]) -> [UInt8] {
        frame.withUnsafeBytes { handle($0) }
    }

    /// The same for a frame lent by the transport.
    public func handle(_ frame: UnsafeRawBufferPointer) -> [UInt8] {
        let received = DispatchTime.now()
        // Bulk bodies (a move's, a backup's, a catch-up's: `RequestKind.lane`) run on the idle-priority lane.
        return gate.handle(frame, lane: { [moveLane] kind in kind.lane == .idle ? moveLane : nil }) { request in
            let started = DispatchTime.now().uptimeNanoseconds
            defer { if request.body.isSearch { latencies.record(seconds: elapsed(since: started)) } }
            let budget = request.envelope.deadlineMilliseconds
            return try respond(to: request.body, deadline: budget > 0 ? received + .milliseconds(Int(budget)) : nil,
                               sequence: request.envelope.sequence)
        }
    }

    func elapsed(since start: UInt64) -> Double { secondsElapsed(since: start) }

    /// Swaps in a new index under the lock; the old one is freed after it, so a search never
    /// waits for memory to be released.
    func install(_ next: ShardIndex) {
        var replaced: ShardIndex? = next
        index.withLock { swap(&$0, &replaced) }
    }

    /// A backup's steps: a consistent copy of the shard in the data directory, its pieces, its removal.
    func backup(_ step: BackupStep) throws -> BackupReply {
        let copy = BackupCopy(directory: settings.dataDirectory, name: "shard")
        switch step {
        case .snapshot:
            let bytes = try store.backup(to: copy.path)
            log("shard \(settings.shard): backup copy of \(bytes) bytes made")
            return .parts([BackupPart(shard: settings.shard.rawValue, bytes: bytes)])
        case .read(let shard, let offset, let length):
            guard shard == settings.shard.rawValue else {
                throw ErrorReply(.badRequest, "this worker holds shard \(settings.shard), not \(shard.map(String.init) ?? "the catalog")")
            }
            return .data(try copy.read(offset: offset, length: length))
        case .finish:
            copy.remove()
            return .data([])
        }
    }

    /// The placements recorded in the data directory.
    func storedPlacement() throws -> ShardPlacement {
        ShardPlacement(shard: settings.shard, placements: try store.placements().map { Placement(version: $0.version, shards: $0.shards) })
    }

    /// The index snapshot, or an error when no codebook has been pushed yet.
    func snapshot() throws -> ShardIndex {
        guard let current = index.withLock({ $0 }) else {
            throw ErrorReply(.unavailable, "shard \(settings.shard) has no codebook yet: the coordinator pushes it on start")
        }
        return current
    }
}

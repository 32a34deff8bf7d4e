import ClusterModel
import Foundation
import ServiceSupport
import Wire

extension Coordinator {
    /// Checks every worker once: records its state in the catalog and pushes the codebooks to a
    /// worker that lacks them (a new or wiped worker becomes usable without an operator).
    public func checkWorkers(timeoutMilliseconds: Int = 1000) {
        let replies = fanOut(Dictionary(uniqueKeysWithValues: shards.map { ($0, RequestBody.health) }),
                             deadlineMilliseconds: timeoutMilliseconds)
        for shard in shards {
            var state = WorkerState()
            if case .success(.health(let health)) = replies[shard] {
                state = WorkerState(reachable: true, codebookVersion: health.codebookVersion, vectorCount: health.vectorCount,
                                    state: health.state)
                if health.codebookVersion != codebook.version, mayPushCodebooks(to: shard) {
                    let push = fanOut([shard: .codebookPush(version: codebook.version, indexFile: codebook.indexFile)],
                                      deadlineMilliseconds: 30_000)
                    switch push[shard] {
                    case .success:
                        state.codebookVersion = codebook.version
                        state.state = "serving"
                        log("pushed codebooks to shard \(shard)")
                    case .failure(let error) where error.code == .conflict:
                        // The worker holds vectors of other codebooks: retrying every second cannot
                        // help, so wait before asking again (an operator must resolve it).
                        pushConflicts.withLock { $0[shard] = DispatchTime.now() + .seconds(Coordinator.conflictRetrySeconds) }
                        log("codebook push to shard \(shard) refused: \(error.message); next try in \(Coordinator.conflictRetrySeconds) s")
                    case .failure(let error):
                        log("codebook push to shard \(shard) failed: \(error.message)")
                    default: break
                    }
                }
            }
            workerStates.withLock { $0[shard] = state }
            try? catalog.recordWorker(shard: shard.rawValue, url: clients[shard]!.url,
                                      state: state.reachable ? state.state : "unreachable", seen: state.reachable)
        }
    }

    /// False while a recent push to `shard` was refused as a conflict.
    func mayPushCodebooks(to shard: ShardID) -> Bool {
        pushConflicts.withLock { conflicts in
            guard let until = conflicts[shard] else { return true }
            if DispatchTime.now() < until { return false }
            conflicts[shard] = nil
            return true
        }
    }

    /// Runs `checkWorkers` every `intervalSeconds` on its own thread until `stop()`.
    public func startHealthLoop(intervalSeconds: Double = 1) {
        let thread = Thread { [self] in
            while !stopping.load(ordering: .relaxed) {
                checkWorkers()
                Thread.sleep(forTimeInterval: intervalSeconds)
            }
        }
        thread.name = "sightline-health"
        thread.start()
    }

    public func stop() { stopping.store(true, ordering: .relaxed) }
}

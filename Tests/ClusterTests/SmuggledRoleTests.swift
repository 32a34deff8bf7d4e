import ClusterClient
import ClusterModel
import Foundation
import Synchronization
import Testing
import Transport
import Wire

/// A read or write token that puts a second body behind an allowed one (protobuf runs the last)
/// must run nothing, and no address a client names is dialled with the cluster token unless the
/// caller holds the cluster role and asked for a real change. Real processes on loopback.
@Suite(.serialized) struct SmuggledRoleTests {
    /// A listener on a client-named address that records every frame it gets (and its token).
    final class Attacker: @unchecked Sendable {
        final class Log: Sendable { let tokens = Mutex<[[UInt8]]>([]) }
        let url = "tcp://127.0.0.1:\(LocalCluster.freePort())"
        let log = Log()
        var server: ReplyServer?

        init() throws {
            server = try ReplyServer(listen: url, receiveLimit: 1 << 20, workerCount: 1) { [log] frame in
                let envelope = try? WireCodec.decodeEnvelope(frame)
                log.tokens.withLock { $0.append(envelope?.token ?? []) }
                return []
            }
            server?.start()
        }
        var frames: Int { log.tokens.withLock { $0.count } }
    }

    /// `request`'s frame without its envelope: a body appended to another frame.
    static func bodyOnly(_ request: Request) -> [UInt8] {
        let frame = WireCodec.encode(request)
        var offset = 1, length = 0, shift = 0
        while true {
            let byte = frame[offset]
            offset += 1
            length |= Int(byte & 0x7F) << shift
            shift += 7
            if byte & 0x80 == 0 { break }
        }
        return Array(frame[(offset + length)...])
    }

    @Test func smuggledBodiesRunNothingAndTheClusterTokenStaysHome() throws {
        let cluster = try LocalCluster(name: "smuggle", workerCount: 1, index: (16, 16, 4), codebooks: SmallData.codebooks,
                                       tables: "[tokens]\nwrite = \"writer-token\"\nread = \"reader-token\"\n")
        defer { cluster.stop() }
        try cluster.start()
        let admin = try cluster.client()
        _ = try SmallData.add(SmallData.base.slice(0 ..< 100), to: admin)
        let attacker = try Attacker()
        defer { attacker.server?.close() }

        let smuggled: [(String, RequestBody)] = [
            ("delete", .delete(ids: Array(0 ..< 100))),
            ("backup", .backup(.snapshot)),
            ("add-replica dry run", .clusterChange(ClusterChangeRequest(
                change: .addReplica(url: attacker.url, host: "", shard: 0, replacing: ""), dryRun: true))),
            ("add-replica", .clusterChange(ClusterChangeRequest(
                change: .addReplica(url: attacker.url, host: "", shard: 0, replacing: "")))),
            ("add-worker", .clusterChange(ClusterChangeRequest(change: .addWorker(url: attacker.url, host: "")))),
        ]
        for token in ["reader-token", "writer-token", cluster.token] {
            let raw = try cluster.client(token: token)
            let cover = Request(envelope: Envelope(requestID: 77, token: token),
                                body: .search(vector: Array(SmallData.queries.row(0)), options: SearchOptions(k: 1, nprobe: 1)))
            for (name, body) in smuggled {
                let second = Request(envelope: Envelope(requestID: 78, token: token), body: body)
                for frame in [WireCodec.encode(cover) + Self.bodyOnly(second), WireCodec.encode(cover) + WireCodec.encode(second)] {
                    let response = try raw.callRaw(frame, timeoutMilliseconds: 10_000)
                    guard case .error(let reply) = response.body else {
                        Issue.record("\(token): a search frame with a smuggled \(name) was served: \(response.body)")
                        continue
                    }
                    #expect(reply.code == .badRequest, "\(token) + \(name): \(reply)")
                }
            }
            // Sent alone, a body above the token's role is refused before it costs anything.
            if token != cluster.token {
                for (name, body) in smuggled where name != "delete" || token == "reader-token" {
                    do {
                        _ = try raw.call(body)
                        Issue.record("\(token) ran \(name)")
                    } catch {
                        #expect(error.reply.code == .forbidden, "\(token) \(name): \(error)")
                    }
                }
            }
        }
        #expect(try admin.stats().total == 100, "a smuggled delete removed vectors")
        // Dry runs of the cluster role dial nothing either.
        for change in [ClusterChange.addReplica(url: attacker.url, host: "", shard: 0, replacing: ""),
                       .addWorker(url: attacker.url, host: "")] {
            _ = try? admin.changeCluster(ClusterChangeRequest(change: change, dryRun: true))
        }
        Thread.sleep(forTimeInterval: 0.5)
        #expect(attacker.frames == 0, "the coordinator dialled a client-named address \(attacker.frames) times")
        // A backup was never started by the smuggled frames: the cluster role can take one now.
        guard case .backup(.parts(let parts)) = try admin.call(.backup(.snapshot)) else {
            Issue.record("no snapshot parts"); return
        }
        #expect(!parts.isEmpty)
        _ = try admin.call(.backup(.finish))
    }
}

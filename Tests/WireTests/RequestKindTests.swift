import Foundation
import Testing
@testable import Wire

/// The request table against `Proto/sightline.proto` itself: every member of `Request.body` is a
/// kind with the proto's name and number, and nothing else is.
@Suite struct RequestKindTests {
    /// `name = number;` lines of `oneof body` in `message Request`, read from the proto's text.
    static func protoBodyFields() throws -> [UInt64: String] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("Proto/sightline.proto"), encoding: .utf8)
        guard let message = text.range(of: "message Request {"),
              let oneof = text.range(of: "oneof body {", range: message.upperBound ..< text.endIndex),
              let end = text.range(of: "}", range: oneof.upperBound ..< text.endIndex) else { return [:] }
        var fields: [UInt64: String] = [:]
        for line in text[oneof.upperBound ..< end.lowerBound].split(separator: "\n") {
            let words = line.split(whereSeparator: { " ;=".contains($0) })
            guard !line.trimmingCharacters(in: .whitespaces).hasPrefix("//"), words.count == 3,
                  let number = UInt64(words[2]) else { continue }
            fields[number] = String(words[1])
        }
        return fields
    }

    @Test func everyBodyOfTheProtoIsOneKind() throws {
        let fields = try Self.protoBodyFields()
        #expect(fields.count >= 20)
        #expect(Dictionary(uniqueKeysWithValues: RequestKind.all.map { ($0.fieldNumber, $0.name) }) == fields)
        for kind in RequestKind.all {
            #expect(RequestKind(fieldNumber: kind.fieldNumber) == kind)
        }
        #expect(RequestKind(fieldNumber: 1) == nil)       // the envelope
        #expect(RequestKind(fieldNumber: 30) == nil)
    }

    /// Bulk work runs on a worker's idle lane; it is all cluster traffic, so no client token can
    /// put work there.
    @Test func theIdleLaneCarriesOnlyClusterTraffic() {
        let idle = RequestKind.all.filter { $0.lane == .idle }.map(\.name)
        #expect(Set(idle) == ["shard_transfer", "placement_update", "shard_export", "shard_flow", "backup", "replica_pull",
                              "replica_apply"])
        #expect(RequestKind.all.filter { $0.lane == .idle }.allSatisfy { $0.leastRole == .cluster })
    }

    /// What each role may send: the security policy, spelled out once more here on purpose.
    @Test func eachKindNeedsItsRole() {
        let byRole = Dictionary(grouping: RequestKind.all, by: \.leastRole).mapValues { Set($0.map(\.name)) }
        #expect(byRole[.read] == ["search", "search_batch", "stats", "health", "codebook_fetch", "verify", "identify",
                                  "fetch_vectors", "cluster_status"])
        #expect(byRole[.write] == ["add", "delete"])
        #expect(byRole[.cluster] == ["codebook_push", "shard_transfer", "placement_update", "shard_export", "shard_flow",
                                     "cluster_change", "backup", "replica_pull", "replica_apply"])
    }

    @Test func aBodyNamesItsKind() {
        #expect(RequestBody.stats.kind == .stats)
        #expect(RequestBody.delete(ids: [1]).name == "delete")
        #expect(RequestBody.delete(ids: [1]).leastRole == .write)
        #expect(RequestBody.clusterStatus.fieldNumber == 25)
    }
}

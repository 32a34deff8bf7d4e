import Foundation
import Testing
@testable import ShardStore

/// The replica log stays bounded: the oldest writes are trimmed past the window, the floor
/// follows, and a copy that needs writes from below the floor is told to copy in full.
@Suite struct ReplicaLogTests {
    static func folder() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("sightline-log-\(getpid())-\(UInt32.random(in: 0 ... .max))").path
    }

    static func entries(_ ids: Range<UInt64>) -> [StoredEntry] { ids.map { StoredEntry(id: $0, list: 0, code: [1, 2]) } }

    @Test func aLongIngestKeepsTheLogWithinItsWindow() throws {
        let directory = Self.folder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try ShardDatabase(directory: directory, cluster: "c", shard: 0, logWindowIDs: 100)
        var largest: UInt64 = 0
        for write in UInt64(1) ... 1_000 {
            // Ten ids a write, and every tenth write a delete of two of them.
            _ = try store.insert(Self.entries((write - 1) * 10 ..< write * 10), seq: write * 2 - 1)
            if write % 10 == 0 { _ = try store.delete([write * 10 - 1, write * 10 - 2], seq: write * 2) }
            largest = max(largest, try store.loggedIDCount())
        }
        // 10,200 ids were logged; at most the window plus an eighth are ever held.
        #expect(largest <= 100 + 100 / 8 + 10)
        #expect(try store.loggedIDCount() >= 100)
        #expect(try store.lastSeq() == 2_000)
        let floor = try store.logFloor()
        #expect(floor > 1_800 && floor < 2_000)
        // From the floor on, the log still answers; below it, a copy must copy in full.
        #expect(try store.loggedIDs(afterSeq: floor - 1, limit: 1_000_000) == nil)
        let recent = try #require(try store.loggedIDs(afterSeq: 1_997, limit: 1_000_000))
        #expect(recent.upTo == 2_000)
        #expect(Set(recent.ids) == Set((9_990 ..< 10_000).map { UInt64($0) }))
        #expect(try store.count() == 10_000 - 200)
    }

    @Test func theCountSurvivesReopeningAndAFullCopyStartsItAgain() throws {
        let directory = Self.folder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            let store = try ShardDatabase(directory: directory, cluster: "c", shard: 0, logWindowIDs: 1_000)
            for write in UInt64(1) ... 20 { _ = try store.insert(Self.entries((write - 1) * 10 ..< write * 10), seq: write) }
            #expect(try store.loggedIDCount() == 200)
        }
        let store = try ShardDatabase(directory: directory, cluster: "c", shard: 0, logWindowIDs: 1_000)
        #expect(try store.loggedIDCount() == 200)
        try store.applyReplicaPage(Self.entries(0 ..< 5), absent: [], upToSeq: 50, reset: true)
        #expect(try store.loggedIDCount() == 5)
        #expect(try store.logFloor() == 50)
        #expect(try store.loggedIDs(afterSeq: 49, limit: 10) == nil)
    }
}

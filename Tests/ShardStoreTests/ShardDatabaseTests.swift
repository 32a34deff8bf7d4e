import Foundation
import Testing
@testable import ShardStore

@Suite struct ShardDatabaseTests {
    func folder() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("sightline-store-\(getpid())-\(UInt32.random(in: 0 ... .max))").path
    }

    @Test func insertsAreIdempotentAndSurviveReopening() throws {
        let directory = folder()
        do {
            let store = try ShardDatabase(directory: directory, cluster: "c", shard: 0)
            try store.setCodebook(version: 5, indexFile: [1, 2, 3])
            var entries: [StoredEntry] = []
            for i in 0 ..< 10 {
                let entry = StoredEntry(id: UInt64(i), list: Int32(i % 3), code: [UInt8(i), 1], vector: [Float(i), 2],
                                        label: Int32(i), key: "k\(i)")
                entries.append(entry)
            }
            #expect(try store.insert(entries) == Array(repeating: true, count: 10))
            let again: [StoredEntry] = Array(entries[5...]) + [StoredEntry(id: 99, list: 0, code: [0, 0])]
            let expected: [Bool] = [false, false, false, false, false, true]
            #expect(try store.insert(again) == expected)
            #expect(try store.delete([1, 2, 1000]) == [1, 2])
        }
        let reopened = try ShardDatabase(directory: directory, cluster: "c", shard: 0)
        let all = try reopened.loadAll(dimension: 2)
        #expect(all.map(\.id) == [0, 3, 4, 5, 6, 7, 8, 9, 99])
        #expect(all[1] == StoredEntry(id: 3, list: 0, code: [3, 1], vector: [3, 2], label: 3, key: "k3"))
        #expect(try reopened.codebook()?.version == 5)
        #expect(try reopened.labelAndKey(4)?.key == "k4")
    }

    @Test func aDirectoryOfAnotherShardIsRefused() throws {
        let directory = folder()
        _ = try ShardDatabase(directory: directory, cluster: "c", shard: 3)
        #expect(throws: StoreError.otherShard(found: 3, expected: 1)) { try ShardDatabase(directory: directory, cluster: "c", shard: 1) }
        #expect(try ShardDatabase(directory: directory, cluster: "c", shard: 3).count() == 0)
    }

    @Test func aDirectoryOfAnotherClusterIsRefused() throws {
        let directory = folder()
        _ = try ShardDatabase(directory: directory, cluster: "alpha", shard: 0)
        #expect(throws: StoreError.otherCluster(found: "alpha", expected: "beta")) {
            try ShardDatabase(directory: directory, cluster: "beta", shard: 0)
        }
    }

    @Test func anotherCodebookIsRefusedWhileVectorsAreStored() throws {
        let store = try ShardDatabase(directory: folder(), cluster: "c", shard: 0)
        try store.setCodebook(version: 1, indexFile: [1])
        try store.setCodebook(version: 2, indexFile: [2])  // empty shard: allowed
        _ = try store.insert([StoredEntry(id: 1, list: 0, code: [1])])
        #expect(throws: StoreError.codebookConflict(stored: 2, offered: 3)) { try store.setCodebook(version: 3, indexFile: [3]) }
        #expect(try store.codebook()?.version == 2)
    }

    @Test func catalogKeepsCodebooksShardMapsAndItems() throws {
        let directory = folder()
        let catalog = try CatalogDatabase(directory: directory, cluster: "c")
        try catalog.saveCodebook(version: 11, indexFile: [4, 5])
        #expect(try catalog.latestCodebook()?.indexFile == [4, 5])
        #expect(try catalog.recordShardMap([(0, "tcp://a"), (1, "tcp://b")]) == 1)
        #expect(try catalog.recordShardMap([(0, "tcp://a"), (1, "tcp://b")]) == 1)
        #expect(try catalog.recordShardMap([(0, "tcp://a"), (1, "tcp://b"), (2, "tcp://c")]) == 2)
        try catalog.recordItems(ids: [1, 2], labels: [7, 8], keys: ["x", "y"])
        #expect(try catalog.item(2)?.label == 8)
        try catalog.ensureCollection(name: "default", dimension: 4, nlist: 2, m: 2, metric: "l2", storesVectors: false)
        #expect(throws: StoreError.self) {
            try catalog.ensureCollection(name: "default", dimension: 8, nlist: 2, m: 2, metric: "l2", storesVectors: false)
        }
        #expect(throws: StoreError.otherCluster(found: "c", expected: "d")) { try CatalogDatabase(directory: directory, cluster: "d") }
    }
}

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
        let first = try catalog.recordInitialMap([MapShard(shard: 0, url: "tcp://a"), MapShard(shard: 1, url: "tcp://b")])
        #expect(first.version == 1 && first.placementShards == [0, 1])
        // The catalog's map wins over a later config.
        #expect(try catalog.recordInitialMap([MapShard(shard: 5, url: "tcp://z")]) == first)
        try catalog.recordItems(ids: [1, 2], labels: [7, 8], keys: ["x", "y"])
        #expect(try catalog.item(2)?.label == 8)
        try catalog.ensureCollection(name: "default", dimension: 4, nlist: 2, m: 2, metric: "l2", storesVectors: false)
        #expect(throws: StoreError.self) {
            try catalog.ensureCollection(name: "default", dimension: 8, nlist: 2, m: 2, metric: "l2", storesVectors: false)
        }
        #expect(throws: StoreError.otherCluster(found: "c", expected: "d")) { try CatalogDatabase(directory: directory, cluster: "d") }
    }

    @Test func movesAreJournaledOneAtATimeAndFlipPutsTheirMapInForce() throws {
        let catalog = try CatalogDatabase(directory: folder(), cluster: "c")
        _ = try catalog.recordInitialMap([MapShard(shard: 0, url: "tcp://a"), MapShard(shard: 1, url: "tcp://b")])
        let next = [MapShard(shard: 0, url: "tcp://a"), MapShard(shard: 1, url: "tcp://b"),
                    MapShard(shard: 2, url: "tcp://c", host: "h3")]
        let move = try catalog.planMove(kind: "add-worker", shard: 2, next: next, rate: 0)
        #expect(move.fromVersion == 1 && move.toVersion == 2 && move.step == .planned)
        #expect(throws: StoreError.self) { try catalog.planMove(kind: "remove-worker", shard: 0, next: next, rate: 0) }
        try catalog.setMoveStep(move, .copy)
        try catalog.setMoveCursor(move, source: 0, after: 41, done: false)
        #expect(try catalog.moveCursor(move, source: 0) == (41, false))
        #expect(try catalog.moveCursor(move, source: 1) == (nil, false))
        #expect(try catalog.currentMap()?.version == 1)
        try catalog.setMoveStep(move, .flip)
        #expect(try catalog.currentMap()?.placementShards == [0, 1, 2])
        #expect(try catalog.currentMap()?.shards.last?.host == "h3")
        try catalog.setMoveStep(move, .done)
        #expect(try catalog.activeMove() == nil)
        #expect(try catalog.lastMove()?.step == .done)
    }
}

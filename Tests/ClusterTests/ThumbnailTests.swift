import ClusterClient
import ClusterModel
import CoordinatorService
import Foundation
import ShardStore
import Testing
import Wire

/// The images the web page shows travel with an add and stay on the coordinator: stored for the
/// ids an add committed, refused whole when malformed, removed by a delete, never sent to workers.
@Suite struct ThumbnailTests {
    func batch(_ ids: [UInt64], thumbnails: [[UInt8]]) -> AddBatch {
        AddBatch(ids: ids, vectors: VectorBatch(dimension: 16, values: (0 ..< ids.count * 16).map { Float($0 % 7) }),
                 thumbnails: thumbnails)
    }

    @Test func thumbnailsAreKeptForAddedIdsAndDeletedWithThem() throws {
        let cluster = try InProcessCluster(workerCount: 2)
        let client = cluster.client()
        let images: [[UInt8]] = [[0x89, 0x50, 0x4E, 0x47, 1], [], [0xFF, 0xD8, 0xFF, 3]]
        let (added, _) = try client.add(batch([10, 11, 12], thumbnails: images))
        #expect(added == 3)
        let store = try #require(cluster.coordinator.thumbnails)
        #expect(try store.image(of: 10) == images[0])
        #expect(try store.image(of: 11) == nil)  // an empty image stores nothing
        #expect(try store.image(of: 12) == images[2])
        #expect(Set(try store.sampleIDs(count: 10)) == [10, 12])
        // A repeated add stores nothing new: the first image stays.
        _ = try client.add(batch([10], thumbnails: [[0x89, 0x50, 0x4E, 0x47, 9]]))
        #expect(try store.image(of: 10) == images[0])
        _ = try client.call(.delete(ids: [10]))
        #expect(try store.image(of: 10) == nil)
        #expect(store.count == 1)
    }

    @Test func malformedThumbnailsRefuseTheWholeAdd() throws {
        let cluster = try InProcessCluster(workerCount: 2)
        let client = cluster.client()
        let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47]
        let cases: [[[UInt8]]] = [[png], [png, png, png], [png + [UInt8](repeating: 7, count: ThumbnailStore.maxBytes), png],
                                  [png, Array("<script>alert(1)</script>".utf8)]]
        for thumbnails in cases {
            #expect(throws: ClientError.self) { try client.add(batch([20, 21], thumbnails: thumbnails)) }
        }
        let store = try #require(cluster.coordinator.thumbnails)
        #expect(store.count == 0)
        let (_, total) = try client.stats()
        #expect(total == 0)
    }
}

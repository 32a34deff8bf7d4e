import Testing
@testable import CoordinatorService

@Suite struct CopyPlacementTests {
    @Test func zonesAreTheLabelBeforeTheSlash() {
        #expect(CopyPlacement.zone(of: "eu-1a/host4") == "eu-1a")
        #expect(CopyPlacement.zone(of: "host4") == nil)
        #expect(CopyPlacement.zone(of: "/host4") == nil)
        #expect(CopyPlacement.zone(of: "") == nil)
    }

    @Test func copiesOfOneShardNeverShareAHost() {
        #expect(CopyPlacement.refusal(host: "h1", shardHosts: ["h1"], clusterHosts: ["h1", "h2"]) != nil)
        #expect(CopyPlacement.refusal(host: "a/h1", shardHosts: ["a/h1"], clusterHosts: []) != nil)
        #expect(CopyPlacement.refusal(host: "h2", shardHosts: ["h1"], clusterHosts: ["h1", "h2"]) == nil)
        // Unknown hosts constrain nothing.
        #expect(CopyPlacement.refusal(host: "", shardHosts: [""], clusterHosts: []) == nil)
    }

    @Test func aShardsCopiesSpreadOverZonesWhileAZoneHasNone() {
        let cluster = ["a/h1", "b/h2", "c/h3"]
        // Zone a holds a copy while b and c hold none: refused, naming them.
        let refused = CopyPlacement.refusal(host: "a/h9", shardHosts: ["a/h1"], clusterHosts: cluster)
        #expect(refused?.contains("b, c") == true, "\(refused ?? "")")
        #expect(CopyPlacement.refusal(host: "b/h9", shardHosts: ["a/h1"], clusterHosts: cluster) == nil)
        // Every zone holds a copy: a fourth copy may share one.
        #expect(CopyPlacement.refusal(host: "a/h9", shardHosts: ["a/h1", "b/h2", "c/h3"], clusterHosts: cluster) == nil)
        // A new zone counts as known.
        #expect(CopyPlacement.refusal(host: "d/h9", shardHosts: ["a/h1"], clusterHosts: cluster) == nil)
    }
}

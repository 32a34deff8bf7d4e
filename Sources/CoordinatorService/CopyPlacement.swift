/// Where a shard's copies may go. Copies of one shard never share a host. A host recorded as
/// `ZONE/HOST` (say `eu-west-1a/host4`) names its zone too, and a shard's copies then spread over
/// zones: a copy may join a zone that already holds one of its shard's copies only when every
/// zone the cluster knows does (a shard with more copies than there are zones).
enum CopyPlacement {
    /// The zone in a host label (`ZONE/HOST`), or nil when the label names none.
    static func zone(of host: String) -> String? {
        guard let slash = host.firstIndex(of: "/"), slash != host.startIndex else { return nil }
        return String(host[..<slash])
    }

    /// Why a copy on `host` may not join a shard whose other copies are on `shardHosts`, in a
    /// cluster whose copies are on `clusterHosts`; nil when it may. Empty hosts are unknown and
    /// constrain nothing.
    static func refusal(host: String, shardHosts: [String], clusterHosts: [String]) -> String? {
        guard !host.isEmpty else { return nil }
        if shardHosts.contains(host) { return "the shard already has a copy on host \(host): place each copy on its own host" }
        guard let zone = zone(of: host) else { return nil }
        let used = Set(shardHosts.compactMap(zone(of:)))
        guard used.contains(zone) else { return nil }
        let free = Set(clusterHosts.compactMap(zone(of:)) + [zone]).subtracting(used)
        guard !free.isEmpty else { return nil }
        return "the shard already has a copy in zone \(zone), and zones \(free.sorted().joined(separator: ", ")) have none: "
            + "place the copy there"
    }
}

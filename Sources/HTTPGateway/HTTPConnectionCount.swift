import NIOCore
import Synchronization

/// The HTTP listener's open connections, over all peers and by address. A new connection always
/// gets a place: past the cap of its own address it displaces that address's oldest connection
/// that is not in the middle of a request, and past the global cap the oldest such connection of
/// the address holding the most — so a flood from a few addresses evicts its own connections
/// first, and a client at another address is served. Only when every candidate is busy is the
/// newcomer refused. One lock, held for dictionary updates; the connections to close are closed
/// after it is released.
final class HTTPConnectionCount: Sendable {
    struct Entry {
        let address: String
        let channel: any Channel
        /// A request of it is being read or answered: never displaced.
        var busy = false
    }

    struct Table {
        var entries: [UInt64: Entry] = [:]
        var byAddress: [String: Int] = [:]
        var nextID: UInt64 = 0
    }

    let limits: HTTPLimits
    private let table = Mutex(Table())

    init(limits: HTTPLimits) { self.limits = limits }

    var total: Int { table.withLock { $0.entries.count } }

    /// Records a new connection and returns its id, or nil when it must be refused; closes the
    /// connections it displaces.
    func admit(_ channel: any Channel, from address: String) -> UInt64? {
        var displaced: [any Channel] = []
        let id: UInt64? = table.withLock { table in
            func evict(where matches: (Entry) -> Bool) -> Bool {
                // Ids grow with arrival: the smallest is the oldest.
                guard let victim = table.entries.filter({ !$0.value.busy && matches($0.value) }).min(by: { $0.key < $1.key }) else {
                    return false
                }
                remove(victim.key, from: &table)
                displaced.append(victim.value.channel)
                return true
            }
            if table.byAddress[address, default: 0] >= limits.maxConnectionsPerAddress {
                guard evict(where: { $0.address == address }) else { return nil }
            }
            if table.entries.count >= limits.maxConnections {
                let largest = table.byAddress.filter { $0.key != address }.max { $0.value < $1.value }?.key ?? address
                guard evict(where: { $0.address == largest }) || evict(where: { _ in true }) else { return nil }
            }
            let id = table.nextID
            table.nextID += 1
            table.entries[id] = Entry(address: address, channel: channel)
            table.byAddress[address, default: 0] += 1
            return id
        }
        for channel in displaced { channel.close(promise: nil) }
        return id
    }

    /// Marks a connection as in the middle of a request (or not).
    func setBusy(_ id: UInt64, _ busy: Bool) {
        table.withLock { $0.entries[id]?.busy = busy }
    }

    /// A connection closed (a displaced one was already forgotten).
    func release(_ id: UInt64) {
        table.withLock { remove(id, from: &$0) }
    }

    private func remove(_ id: UInt64, from table: inout Table) {
        guard let entry = table.entries.removeValue(forKey: id) else { return }
        let left = table.byAddress[entry.address, default: 1] - 1
        table.byAddress[entry.address] = left > 0 ? left : nil
    }

    /// The key the per-address cap counts under: the IPv4 address, or the first 64 bits of an
    /// IPv6 address (one host commonly holds a whole /64); IPv4-mapped IPv6 counts as IPv4.
    static func key(of address: SocketAddress?) -> String {
        switch address {
        case .v4(let v4)?:
            return v4.host
        case .v6(let v6)?:
            let bytes = withUnsafeBytes(of: v6.address.sin6_addr) { Array($0) }
            if bytes[0 ..< 10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF {
                return bytes[12 ..< 16].map(String.init).joined(separator: ".")
            }
            return bytes[0 ..< 8].map { String($0, radix: 16) }.joined(separator: ":") + "::/64"
        default:
            return "local"
        }
    }
}

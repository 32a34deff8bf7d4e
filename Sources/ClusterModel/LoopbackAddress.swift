/// True for addresses only this machine can reach: `ipc://`, `inproc://`, and tcp on 127.0.0.0/8,
/// `localhost` or `[::1]`. A service without a token may listen only there.
public func isLoopbackAddress(_ url: String) -> Bool {
    if url.hasPrefix("ipc://") || url.hasPrefix("inproc://") { return true }
    guard let colon = url.firstIndex(of: ":"), url[colon...].hasPrefix("://") else { return false }
    let authority = url[url.index(colon, offsetBy: 3)...].prefix { $0 != "/" }
    if authority.hasPrefix("[::1]") { return true }
    let host = authority.split(separator: ":", omittingEmptySubsequences: false).first.map(String.init) ?? ""
    if host == "localhost" { return true }
    let octets = host.split(separator: ".", omittingEmptySubsequences: false)
    return octets.count == 4 && octets.allSatisfy { UInt8($0) != nil } && octets[0] == "127"
}

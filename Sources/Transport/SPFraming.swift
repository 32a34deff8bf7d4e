/// The scalability-protocols wire format nng's REQ/REP sockets speak over TCP, TLS and IPC,
/// written out so that the project's connections and servers can speak it over plain nng streams
/// (one thread hand-off a message instead of nng's four or five) while every REQ or REP peer
/// (pynng, nng's own sockets) still understands them.
///
/// A connection opens with an 8-byte greeting from each side: `00 'S' 'P' 00`, the sender's
/// protocol number (big-endian 16 bits: REQ 48, REP 49) and two zero bytes. Each message follows
/// as a 64-bit big-endian length and that many bytes; over IPC the length is preceded by a type
/// byte, 1. A request's message starts with its 32-bit request id (high bit set), which the reply
/// repeats; requests that passed through nng devices carry more 32-bit hops before it.
enum SPFraming {
    static let requestProtocol: UInt16 = 48
    static let replyProtocol: UInt16 = 49
    static let greetingLength = 8
    /// Hops a reply server accepts before the request id (nng's default TTL).
    static let maxHops = 8

    enum Scheme: Sendable {
        case tcp, ipc
        init(url: String) { self = url.hasPrefix("ipc://") ? .ipc : .tcp }

        /// The addresses framed here: tcp, tls+tcp (IPv4 or 6) and ipc. nng's other stream
        /// schemes (ws, unix, abstract) frame messages otherwise.
        static func isSupported(_ url: String) -> Bool {
            ["tcp://", "tcp4://", "tcp6://", "tls+tcp://", "tls+tcp4://", "tls+tcp6://", "ipc://"].contains { url.hasPrefix($0) }
        }
        /// Bytes before each message: the length (and the type byte over IPC).
        var headerLength: Int { self == .ipc ? 9 : 8 }
    }

    static func greeting(_ protocolNumber: UInt16) -> [UInt8] {
        [0, 0x53, 0x50, 0, UInt8(protocolNumber >> 8), UInt8(protocolNumber & 0xFF), 0, 0]
    }

    /// The peer's protocol number, or nil when `bytes` (8 of them) are no greeting.
    static func peerProtocol(_ bytes: UnsafeRawBufferPointer) -> UInt16? {
        guard bytes.count >= greetingLength, bytes[0] == 0, bytes[1] == 0x53, bytes[2] == 0x50, bytes[3] == 0,
              bytes[6] == 0, bytes[7] == 0 else { return nil }
        return UInt16(bytes[4]) << 8 | UInt16(bytes[5])
    }

    /// The header of a message of `length` bytes.
    static func header(_ scheme: Scheme, length: Int) -> [UInt8] {
        var bytes: [UInt8] = scheme == .ipc ? [1] : []
        bytes.reserveCapacity(9)
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: UInt64(length) >> UInt64(shift))) }
        return bytes
    }

    enum HeaderError: Error, Equatable { case badType, tooLong(UInt64) }

    /// The length a message header announces; refuses one above `limit` before anything is
    /// allocated for it.
    static func messageLength(_ scheme: Scheme, _ bytes: UnsafeRawBufferPointer, limit: Int) throws(HeaderError) -> Int {
        var offset = 0
        if scheme == .ipc {
            guard bytes[0] == 1 else { throw .badType }
            offset = 1
        }
        var length: UInt64 = 0
        for index in offset ..< offset + 8 { length = length << 8 | UInt64(bytes[index]) }
        guard length <= UInt64(limit) else { throw .tooLong(length) }
        return Int(length)
    }

    static func appendWord(_ word: UInt32, to bytes: inout [UInt8]) {
        bytes.append(UInt8(word >> 24))
        bytes.append(UInt8(truncatingIfNeeded: word >> 16))
        bytes.append(UInt8(truncatingIfNeeded: word >> 8))
        bytes.append(UInt8(truncatingIfNeeded: word))
    }

    static func word(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt32 {
        UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
    }

    /// The length of a request's routing prefix (hops and request id, ending with the word whose
    /// high bit is set), or nil when the message has none within `maxHops` words.
    static func routingLength(_ message: UnsafeRawBufferPointer) -> Int? {
        var offset = 0
        while offset + 4 <= message.count, offset / 4 < maxHops {
            let value = word(message, at: offset)
            offset += 4
            if value & 0x8000_0000 != 0 { return offset }
        }
        return nil
    }
}

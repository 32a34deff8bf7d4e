import Foundation
import Testing

/// `sightline search --index` on a file edited by an attacker: an error line and exit 2, never a trap.
@Suite struct HostileIndexCLITests {
    /// The trained file with its first list and header claiming `count` vectors, checksums redone.
    static func claiming(_ count: UInt64, from path: String) throws -> [UInt8] {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        func put(_ value: UInt64, _ width: Int, at offset: Int) {
            for i in 0 ..< width { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
        }
        func crc(_ slice: ArraySlice<UInt8>) -> UInt64 {
            var crc: UInt32 = 0xFFFF_FFFF
            for byte in slice {
                crc ^= UInt32(byte)
                for _ in 0 ..< 8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
            }
            return UInt64(crc ^ 0xFFFF_FFFF)
        }
        // Version 2 header: nlist at byte 15, the vector count at 23, the header's CRC at 31.
        let nlist = (0 ..< 4).reduce(0) { $0 | Int(bytes[15 + $1]) << (8 * $1) }
        put(count, 8, at: 23)
        put(crc(bytes[0 ..< 31]), 4, at: 31)
        let list = bytes.count - 4 - 8 * nlist - 4
        put(count, 8, at: list + 4)
        put(crc(bytes[list ..< bytes.count - 4]), 4, at: bytes.count - 4)
        return bytes
    }

    @Test func aListClaiming2To63VectorsIsAnErrorNotACrash() throws {
        _ = Prepared.index
        let crafted = "\(Prepared.folder)/crafted.slix"
        // The trained file has empty lists: exactly the shape a codebook push carries.
        try Data(Self.claiming(1 << 63, from: "\(Prepared.folder)/trained.slix")).write(to: URL(fileURLWithPath: crafted))
        let result = try CLI.run(["search", "--index", crafted, "--queries", "\(Prepared.data)/query.fvecs", "--k", "5", "--nprobe", "4"])
        #expect(result.status == 2, "exit \(result.status): \(result.stderr)")
        #expect(result.stderr.hasPrefix("error: "), "\(result.stderr)")
        // The checksum is right: only the lie is left for the loader to catch.
        let honest = try Self.claiming(0, from: "\(Prepared.folder)/trained.slix")
        #expect(honest == [UInt8](try Data(contentsOf: URL(fileURLWithPath: "\(Prepared.folder)/trained.slix"))))
    }
}

/// A stable version for a codebook: FNV-1a over the trained index file's bytes.
public func codebookVersion(of indexFile: [UInt8]) -> UInt64 {
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    for byte in indexFile { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
    return hash == 0 ? 1 : hash
}

import Testing
@testable import Descriptors
@testable import VectorMath

/// Model files whose header describes more than the file holds, or sizes that overflow.
@Suite struct HostileModelFileTests {
    /// A version-3 header with the given sizes and `weights` floats after it, CRC included.
    static func file(input: UInt32, hidden: [UInt32], embedding: UInt32, convolutions: [UInt32] = [],
                     image: (UInt32, UInt32, UInt32) = (0, 0, 0), weights: Int = 0) -> [UInt8] {
        var bytes = Array("SLDM".utf8)
        func put(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
        put(3)
        put(input)
        put(UInt32(hidden.count))
        hidden.forEach(put)
        put(embedding)
        bytes.append(0)
        put(UInt32(convolutions.count))
        convolutions.forEach(put)
        put(image.0); put(image.1); put(image.2)
        put(Float.nan.bitPattern); put(Float.nan.bitPattern)
        for _ in 0 ..< weights { put(Float(0.5).bitPattern) }
        put(CRC32.checksum(bytes))
        return bytes
    }

    @Test func headersThatClaimMoreThanTheFileAreCorrupt() {
        // 784 × 65,536 weights for a hidden layer, in a file of a few bytes.
        #expect(throws: DescriptorError.self) { try ModelFile.decode(Self.file(input: 784, hidden: [65_536], embedding: 128)) }
        // An embedding of 2^31 floats.
        #expect(throws: DescriptorError.self) { try ModelFile.decode(Self.file(input: 4, hidden: [], embedding: 1 << 31)) }
        // Image dimensions whose product overflows.
        #expect(throws: DescriptorError.self) {
            try ModelFile.decode(Self.file(input: 4, hidden: [8], embedding: 4, convolutions: [8],
                                           image: (.max, .max, .max)))
        }
    }

    @Test func theCountOfStoredValuesMatchesWhatEncodeWrites() throws {
        for shape in [NetworkShape.convolutional(side: 12, embeddingSize: 16),
                      NetworkShape(inputSize: 20, hiddenSizes: [8, 6], embeddingSize: 4, batchNorm: true),
                      NetworkShape(inputSize: 20, hiddenSizes: [8], embeddingSize: 4, batchNorm: false)] {
            let network = EmbeddingNetwork(shape: shape, seed: 3)
            let encoded = ModelFile.encode(network)
            let headerBytes = 4 * (9 + shape.hiddenSizes.count + shape.convolutionChannels.count) + 1 + 8
            #expect(shape.storedValueCount() == (encoded.count - headerBytes - 4) / 4)
            #expect(try ModelFile.decode(encoded).shape == shape)
            // One float short: refused before any layer is built.
            var short = Array(encoded[0 ..< encoded.count - 8])
            short += withUnsafeBytes(of: CRC32.checksum(short).littleEndian) { Array($0) }
            #expect(throws: DescriptorError.self) { try ModelFile.decode(short) }
        }
    }
}

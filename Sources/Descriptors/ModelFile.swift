import VectorMath

/// The versioned descriptor-model file: the network without its training head.
///
/// Layout (little-endian): `"SLDM"`, version UInt32 (= 3), input size, hidden count, hidden sizes,
/// embedding size (UInt32 each), batch-norm flag (UInt8); since version 2: convolution count,
/// channels of each, image width, height, channels (UInt32 each; zeros for an MLP) and the
/// calibrated verification threshold, since version 3 also the identification threshold
/// (Float32 each, NaN when not calibrated); then every layer's values
/// in order (conv and dense: weight, bias; batch-norm: scale, shift, running mean, running
/// variance) as Float32, then a CRC-32 of everything before it. Versions 1 and 2 still load.
public enum ModelFile {
    static let magic = Array("SLDM".utf8)
    public static let version: UInt32 = 3

    public static func encode(_ network: EmbeddingNetwork) -> [UInt8] {
        var bytes = magic
        func put(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
        func put(_ values: [Float]) { for value in values { put(value.bitPattern) } }
        put(version)
        put(UInt32(network.shape.inputSize))
        put(UInt32(network.shape.hiddenSizes.count))
        network.shape.hiddenSizes.forEach { put(UInt32($0)) }
        put(UInt32(network.shape.embeddingSize))
        bytes.append(network.shape.batchNorm ? 1 : 0)
        put(UInt32(network.shape.convolutionChannels.count))
        network.shape.convolutionChannels.forEach { put(UInt32($0)) }
        let image = network.shape.image ?? ImageGeometry(width: 0, height: 0, channels: 0)
        [image.width, image.height, image.channels].forEach { put(UInt32($0)) }
        put((network.verificationThreshold ?? .nan).bitPattern)
        put((network.identificationThreshold ?? .nan).bitPattern)
        for layer in network.layers {
            if let conv = layer as? Conv2D { put(conv.weight.values); put(conv.bias.values) }
            if let dense = layer as? Dense { put(dense.weight.values); put(dense.bias.values) }
            if let norm = layer as? BatchNorm {
                put(norm.scale.values); put(norm.shift.values); put(norm.runningMean); put(norm.runningVariance)
            }
        }
        put(CRC32.checksum(bytes))
        return bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(DescriptorError) -> EmbeddingNetwork {
        var offset = 0
        func take(_ count: Int) throws(DescriptorError) -> ArraySlice<UInt8> {
            guard count >= 0, bytes.count - offset >= count else { throw .corruptModel("truncated at byte \(offset) of \(bytes.count)") }
            defer { offset += count }
            return bytes[offset ..< offset + count]
        }
        func word() throws(DescriptorError) -> UInt32 {
            let slice = try take(4)
            return slice.reversed().reduce(0) { $0 << 8 | UInt32($1) }
        }
        func floats(_ count: Int) throws(DescriptorError) -> [Float] {
            guard count <= (bytes.count - offset) / 4 else { throw .corruptModel("truncated inside the weights") }
            var values: [Float] = []
            values.reserveCapacity(count)
            for _ in 0 ..< count { values.append(Float(bitPattern: try word())) }
            return values
        }
        guard bytes.count >= 8, Array(try take(4)) == magic else { throw .corruptModel("not a Sightline descriptor model (no SLDM magic)") }
        let fileVersion = try word()
        guard (1 ... version).contains(fileVersion) else {
            throw .corruptModel("version \(fileVersion) is not supported (this Sightline reads versions 1 to \(version))")
        }
        guard CRC32.checksum(Array(bytes[0 ..< bytes.count - 4]))
              == bytes[(bytes.count - 4)...].reversed().reduce(UInt32(0), { $0 << 8 | UInt32($1) }) else {
            throw .corruptModel("checksum mismatch")
        }
        let inputSize = Int(try word()), hiddenCount = Int(try word())
        guard hiddenCount <= 64 else { throw .corruptModel("\(hiddenCount) hidden layers") }
        var hidden: [Int] = []
        for _ in 0 ..< hiddenCount { hidden.append(Int(try word())) }
        let embeddingSize = Int(try word())
        let batchNorm = try take(1).first! == 1
        var convolutions: [Int] = [], image: ImageGeometry?, thresholds: [Float?] = [nil, nil]
        if fileVersion >= 2 {
            let convolutionCount = Int(try word())
            guard convolutionCount <= 16 else { throw .corruptModel("\(convolutionCount) convolution blocks") }
            for _ in 0 ..< convolutionCount { convolutions.append(Int(try word())) }
            let geometry = ImageGeometry(width: Int(try word()), height: Int(try word()), channels: Int(try word()))
            // Bounded before `size` multiplies them.
            guard geometry.width <= 1 << 16, geometry.height <= 1 << 16, geometry.channels <= 1 << 12 else {
                throw .corruptModel("implausible image geometry \(geometry.width)×\(geometry.height)×\(geometry.channels)")
            }
            if geometry.size > 0 { image = geometry }
            for slot in 0 ..< (fileVersion >= 3 ? 2 : 1) {
                let stored = Float(bitPattern: try word())
                thresholds[slot] = stored.isNaN ? nil : stored
            }
        }
        guard inputSize > 0, embeddingSize > 0, embeddingSize <= 1 << 16, hidden.allSatisfy({ $0 > 0 && $0 <= 1 << 16 }),
              inputSize <= 1 << 24, convolutions.allSatisfy({ $0 <= 1 << 12 }) else {
            throw .corruptModel("implausible shape")
        }
        let shape = NetworkShape(inputSize: inputSize, hiddenSizes: hidden, embeddingSize: embeddingSize, batchNorm: batchNorm,
                                 convolutionChannels: convolutions, image: image)
        do { try shape.validate() } catch { throw .corruptModel("inconsistent shape: \(error)") }
        // The layers are allocated from the header's sizes: only when the file holds their weights.
        guard let stored = shape.storedValueCount(), stored <= (bytes.count - 4 - offset) / 4 else {
            throw .corruptModel("the header describes more weights than the file holds")
        }
        let network = EmbeddingNetwork(shape: shape, seed: 0)
        network.verificationThreshold = thresholds[0]
        network.identificationThreshold = thresholds[1]
        for layer in network.layers {
            if let conv = layer as? Conv2D {
                conv.weight.values = try floats(conv.weight.count)
                conv.bias.values = try floats(conv.bias.count)
            }
            if let dense = layer as? Dense {
                dense.weight.values = try floats(dense.weight.count)
                dense.bias.values = try floats(dense.bias.count)
            }
            if let norm = layer as? BatchNorm {
                norm.scale.values = try floats(norm.outputSize)
                norm.shift.values = try floats(norm.outputSize)
                norm.setRunning(mean: try floats(norm.outputSize), variance: try floats(norm.outputSize))
            }
        }
        guard offset == bytes.count - 4 else { throw .corruptModel("\(bytes.count - 4 - offset) unexpected bytes") }
        return network
    }
}

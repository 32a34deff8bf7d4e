import ErrorKinds
import Datasets
import Descriptors
import Foundation
import VectorMath

/// Turns an uploaded image into the collection's descriptor: decoded (PNG or JPEG, any size and
/// colour), fitted to the model's input (`ImageFitting`) and embedded by the collection's
/// descriptor model, or taken as the pixels themselves for collections of raw pixels. The HTTP
/// gateway reaches it only as an `ImageDescriber` (the coordinator hands it over), so the HTTP
/// layer links no image codec and no network.
public final class ImageEmbedder: @unchecked Sendable {
    // Safe: the network's layers keep scratch state, so `lock` serialises every forward pass.
    private let network: EmbeddingNetwork?
    private let lock = NSLock()
    /// Decoding a large upload takes tens of MB and some CPU: two at a time, the rest wait.
    private let decodes = DispatchSemaphore(value: 2)
    public let width: Int
    public let height: Int
    public let dimension: Int
    /// The model's calibrated thresholds (nil for raw pixels or an uncalibrated model).
    public let verificationThreshold: Float?
    public let identificationThreshold: Float?
    public let summary: String

    /// `spec` is `"pixels"` (a square grey image of `dimension` pixels) or a model file's path.
    public init(spec: String, dimension: Int) throws {
        if spec == "pixels" {
            let side = Int(Double(dimension).squareRoot().rounded())
            guard side * side == dimension else {
                throw SightlineError(.internalError, "descriptor_model = \"pixels\" needs a square number of "
                               + "dimensions (the collection has \(dimension))")
            }
            network = nil
            width = side
            height = side
            self.dimension = dimension
            verificationThreshold = nil
            identificationThreshold = nil
            summary = "raw pixels, \(side)×\(side) grey"
            return
        }
        let model = try ModelFile.decode(try FileBytes.read(spec))
        guard model.shape.embeddingSize == dimension else {
            throw SightlineError(.internalError, "\(spec) makes \(model.shape.embeddingSize)-d descriptors; "
                           + "the collection holds \(dimension)-d vectors")
        }
        if let image = model.shape.image, image.channels == 1 {
            (width, height) = (image.width, image.height)
        } else {
            let side = Int(Double(model.shape.inputSize).squareRoot().rounded())
            guard side * side == model.shape.inputSize else {
                throw SightlineError(.internalError, "\(spec) takes \(model.shape.inputSize) inputs, not a square grey image")
            }
            (width, height) = (side, side)
        }
        network = model
        self.dimension = dimension
        verificationThreshold = model.verificationThreshold
        identificationThreshold = model.identificationThreshold
        summary = "\(spec) (\(width)×\(height) grey → \(dimension)-d)"
    }

    /// The descriptor of one encoded image; a clear error for bytes that are not one.
    public func embed(_ bytes: [UInt8], name: String = "the image") throws -> [Float] {
        guard !bytes.isEmpty else { throw SightlineError(.badInput, "\(name) is empty") }
        decodes.wait()
        defer { decodes.signal() }
        let pixels: [Float]
        do {
            pixels = ImageFitting.fit(try GreyImage(decoding: bytes, name: name), width: width, height: height)
        } catch {
            throw SightlineError(.badInput, "\(error)")
        }
        guard let network else { return pixels }
        return try lock.withLock {
            try network.embed(try Matrix(dimension: width * height, values: pixels)).values
        }
    }
}

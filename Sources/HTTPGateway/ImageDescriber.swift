/// Turns an uploaded image into the collection's descriptor. The coordinator supplies one (its
/// `[http] descriptor_model`); the gateway only calls it, so it links no image decoder or model.
public protocol ImageDescriber: Sendable {
    /// The model's calibrated thresholds, the defaults of `/v1/verify` and `/v1/identify` (nil: none).
    var verificationThreshold: Float? { get }
    var identificationThreshold: Float? { get }
    /// The descriptor of one encoded image; a classified error (bad input) for bytes that are not one.
    func embed(_ bytes: [UInt8], name: String) throws -> [Float]
}

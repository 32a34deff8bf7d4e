import Datasets
import Descriptors
import ErrorKinds
import ProcessRuntime
import VectorMath
import Workflows

/// Image files as one matrix of the model's input size, one row per file: PNG and JPEG of any
/// size and colour are brought to it as the HTTP API does (grey, fitted, centred); PGM must
/// have that size.
func readImageFiles(_ paths: [String], for network: EmbeddingNetwork) throws -> Matrix {
    let (width, height) = try inputGeometry(of: network)
    var values: [Float] = []
    for path in paths { values += try ImageFile.read(path, width: width, height: height) }
    return try Matrix(dimension: network.shape.inputSize, values: values)
}

/// The grey image a model takes: its convolutional geometry, or a square of its input size.
func inputGeometry(of network: EmbeddingNetwork) throws -> (width: Int, height: Int) {
    if let image = network.shape.image, image.channels == 1 { return (image.width, image.height) }
    let side = Int(Double(network.shape.inputSize).squareRoot().rounded())
    guard side * side == network.shape.inputSize else {
        throw SightlineError.badInput("the model takes \(network.shape.inputSize) inputs, not a square grey image: embed vectors instead")
    }
    return (side, side)
}

/// `--threshold` when given, else the model's calibrated one; checked to be usable either way.
func decisionThreshold(_ given: Float?, stored: Float?, kind: String, model: String) throws -> Float {
    guard let limit = given ?? stored else {
        throw SightlineError.badInput("\(model) carries no \(kind) threshold: run sightline calibrate --model \(model), "
                                      + "or pass --threshold")
    }
    guard limit.isFinite, limit >= 0 else { throw SightlineError.badInput("--threshold must be a finite number ≥ 0") }
    return limit
}

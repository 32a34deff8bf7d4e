import Datasets
import Descriptors
import ErrorKinds
import ProcessRuntime
import VectorMath
import Workflows

/// Image files (.png, .pgm) as one matrix of the model's input size, one row per file.
func readImageFiles(_ paths: [String], for network: EmbeddingNetwork) throws -> Matrix {
    var values: [Float] = []
    for path in paths { values += try ImageFile.read(path, expectedPixels: network.shape.inputSize) }
    return try Matrix(dimension: network.shape.inputSize, values: values)
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

import ErrorKinds

/// Index errors describe the request or the file given: wrong dimension, k, nprobe, a bad file.
extension VectorIndexError: ClassifiedError {
    public var kind: ErrorKind { .badInput }
}

import ErrorKinds

/// Training and encoding fail only on what they are given (too few vectors, wrong shapes).
extension QuantizationError: ClassifiedError {
    public var kind: ErrorKind { .badInput }
}

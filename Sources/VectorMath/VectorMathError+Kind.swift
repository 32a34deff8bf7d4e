import ErrorKinds

/// Every numeric error comes from the caller's input (shapes, NaN, sizes).
extension VectorMathError: ClassifiedError {
    public var kind: ErrorKind { .badInput }
}

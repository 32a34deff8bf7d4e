import ErrorKinds

/// A missing, truncated or malformed file is the user's to fix.
extension DatasetError: ClassifiedError {
    public var kind: ErrorKind { .badInput }
}

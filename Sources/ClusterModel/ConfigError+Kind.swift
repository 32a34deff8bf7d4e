import ErrorKinds

/// A configuration file is the operator's to fix.
extension ConfigError: ClassifiedError {
    public var kind: ErrorKind { .badInput }
}

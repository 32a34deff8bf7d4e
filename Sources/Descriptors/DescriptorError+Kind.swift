import ErrorKinds

/// Model files and training inputs come from the user.
extension DescriptorError: ClassifiedError {
    public var kind: ErrorKind { .badInput }
}

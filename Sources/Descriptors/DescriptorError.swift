/// Errors of training and of model files.
public enum DescriptorError: Error, Equatable, CustomStringConvertible {
    case unknownLoss(String)
    case dimensionMismatch(expected: Int, got: Int)
    case nonFiniteLoss(epoch: Int, step: Int)
    case corruptModel(String)
    case invalidParameter(String)

    public var description: String {
        switch self {
        case .unknownLoss(let name):
            return "unknown loss \"\(name)\": use one of \(LossKind.allCases.map(\.rawValue).joined(separator: ", "))"
        case .dimensionMismatch(let expected, let got):
            return "wrong input size: the model takes \(expected) values per image, got \(got)"
        case .nonFiniteLoss(let epoch, let step):
            return "training diverged (NaN or infinity in the loss or its gradients) at epoch \(epoch), step \(step): "
                + "lower the learning rate"
        case .corruptModel(let detail):
            return "the model file is corrupt (\(detail)): train it again"
        case .invalidParameter(let detail):
            return detail
        }
    }
}

import RealModule

/// The optimisers: SGD with momentum and Adam, both with decoupled weight decay on the
/// parameters marked `decays`.
public enum OptimizerKind: String, Sendable, CaseIterable {
    case sgd, adam
}

public struct OptimizerSettings: Sendable, Equatable {
    public var kind: OptimizerKind = .adam
    /// Peak learning rate (after warm-up).
    public var learningRate: Float = 1e-3
    public var momentum: Float = 0.9
    public var weightDecay: Float = 1e-4
    public var beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8
    /// Linear warm-up steps, then cosine decay to 1% of the peak at `totalSteps`.
    public var warmupSteps: Int = 100
    public init() {}
}

public final class Optimizer {
    public let settings: OptimizerSettings
    public let totalSteps: Int
    public private(set) var step = 0

    public init(settings: OptimizerSettings, totalSteps: Int) {
        self.settings = settings
        self.totalSteps = max(1, totalSteps)
    }

    /// The learning rate at `step`: linear warm-up, then cosine decay.
    public func learningRate(at step: Int) -> Float {
        let peak = settings.learningRate
        if step < settings.warmupSteps { return peak * Float(step + 1) / Float(settings.warmupSteps) }
        let progress = Float(step - settings.warmupSteps) / Float(max(1, totalSteps - settings.warmupSteps))
        let floor = peak * 0.01
        return floor + (peak - floor) * 0.5 * (1 + Float.cos(Float.pi * min(1, progress)))
    }

    public func update(_ parameters: [Parameter]) {
        let rate = learningRate(at: step)
        step += 1
        let s = settings
        for parameter in parameters {
            if parameter.firstMoment.isEmpty { parameter.firstMoment = [Float](repeating: 0, count: parameter.count) }
            if s.kind == .adam, parameter.secondMoment.isEmpty { parameter.secondMoment = [Float](repeating: 0, count: parameter.count) }
            let decay = parameter.decays ? s.weightDecay : 0
            switch s.kind {
            case .sgd:
                for i in 0 ..< parameter.count {
                    parameter.firstMoment[i] = s.momentum * parameter.firstMoment[i] + parameter.gradient[i]
                    parameter.values[i] -= rate * (parameter.firstMoment[i] + decay * parameter.values[i])
                }
            case .adam:
                let correction1 = 1 - Float.pow(s.beta1, Float(step)), correction2 = 1 - Float.pow(s.beta2, Float(step))
                for i in 0 ..< parameter.count {
                    let g = parameter.gradient[i]
                    parameter.firstMoment[i] = s.beta1 * parameter.firstMoment[i] + (1 - s.beta1) * g
                    parameter.secondMoment[i] = s.beta2 * parameter.secondMoment[i] + (1 - s.beta2) * g * g
                    let mHat = parameter.firstMoment[i] / correction1, vHat = parameter.secondMoment[i] / correction2
                    parameter.values[i] -= rate * (mHat / (vHat.squareRoot() + s.epsilon) + decay * parameter.values[i])
                }
            }
        }
    }
}

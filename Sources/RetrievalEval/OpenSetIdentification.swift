/// Open-set identification: a probe is answered with its nearest gallery identity, or with "not in
/// the collection" when that nearest distance exceeds a threshold. Probes whose identity is in the
/// gallery ("known") should be identified; the others should be rejected.
public enum OpenSetIdentification {
    /// One probe's nearest gallery neighbour and the truth about it.
    public struct Probe: Sendable, Equatable {
        public var nearestLabel: Int32
        public var distance: Float
        public var label: Int32
        /// Whether the probe's identity is present in the gallery.
        public var known: Bool
        public init(nearestLabel: Int32, distance: Float, label: Int32, known: Bool) {
            self.nearestLabel = nearestLabel
            self.distance = distance
            self.label = label
            self.known = known
        }
    }

    /// Detection-and-identification rate (known probes accepted with the right identity) and
    /// false-accept rate (unknown probes accepted as anybody) at `threshold`.
    public static func rates(_ probes: [Probe], threshold: Float) -> (identification: Double, falseAccept: Double) {
        var known = 0, unknown = 0, identified = 0, falselyAccepted = 0
        for probe in probes {
            let accepted = probe.distance <= threshold
            if probe.known {
                known += 1
                if accepted, probe.nearestLabel == probe.label { identified += 1 }
            } else {
                unknown += 1
                if accepted { falselyAccepted += 1 }
            }
        }
        return (Double(identified) / Double(max(1, known)), Double(falselyAccepted) / Double(max(1, unknown)))
    }

    /// The threshold that maximises `(identification + (1 − falseAccept)) / 2`, swept over the
    /// probes' distances (cut midway between neighbours).
    public static func calibrateThreshold(_ probes: [Probe]) -> Float {
        let sorted = probes.filter(\.distance.isFinite).sorted { $0.distance < $1.distance }
        let known = Double(max(1, sorted.count(where: \.known))), unknown = Double(max(1, sorted.count(where: { !$0.known })))
        var identified = 0.0, falselyAccepted = 0.0
        return ThresholdSweep.best(sorted.map(\.distance), floor: 0.5) { index in
            let probe = sorted[index]
            if probe.known { if probe.nearestLabel == probe.label { identified += 1 } } else { falselyAccepted += 1 }
            return (identified / known + 1 - falselyAccepted / unknown) / 2
        }.threshold
    }

    /// The identification rate at the threshold where at most `falseAcceptRate` of the unknown
    /// probes are accepted, with that threshold.
    public static func identificationRate(_ probes: [Probe],
                                          atFalseAcceptRate falseAcceptRate: Double) -> (rate: Double, threshold: Float) {
        let unknown = probes.filter { !$0.known }.map(\.distance).sorted()
        let allowed = Int((Double(unknown.count) * falseAcceptRate).rounded(.down))
        let threshold = allowed < unknown.count ? unknown[allowed].nextDown : .infinity
        return (rates(probes, threshold: threshold).identification, threshold)
    }
}

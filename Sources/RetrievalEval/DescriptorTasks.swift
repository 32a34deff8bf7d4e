import VectorMath

/// The verification and open-set identification protocols on labelled descriptors (squared L2,
/// the distance the index uses).
public enum DescriptorTasks {
    /// Random labelled pairs: `positives` with equal labels and `negatives` with different ones,
    /// drawn with a seeded generator (pairs of an item with itself are never drawn).
    public static func samplePairs(_ descriptors: Matrix, labels: [Int32], positives: Int, negatives: Int,
                                   seed: UInt64) -> [Verification.Pair] {
        var members: [Int32: [Int]] = [:]
        for (index, label) in labels.enumerated() { members[label, default: []].append(index) }
        let classes = members.keys.sorted().filter { members[$0]!.count >= 2 }
        guard !classes.isEmpty, members.count >= 2 else { return [] }
        var generator = SeededGenerator(seed: seed)
        var pairs: [Verification.Pair] = []
        pairs.reserveCapacity(positives + negatives)
        func distance(_ a: Int, _ b: Int) -> Float {
            descriptors.withUnsafeBufferPointer { x in
                squaredL2(x.baseAddress! + a * descriptors.dimension, x.baseAddress! + b * descriptors.dimension, descriptors.dimension)
            }
        }
        while pairs.count < positives {
            let group = members[classes[Int(generator.next() % UInt64(classes.count))]]!
            let a = group[Int(generator.next() % UInt64(group.count))], b = group[Int(generator.next() % UInt64(group.count))]
            if a != b { pairs.append(.init(distance: distance(a, b), same: true)) }
        }
        var drawn = 0
        while drawn < negatives {
            let a = Int(generator.next() % UInt64(labels.count)), b = Int(generator.next() % UInt64(labels.count))
            guard labels[a] != labels[b] else { continue }
            pairs.append(.init(distance: distance(a, b), same: false))
            drawn += 1
        }
        return pairs
    }

    /// Each probe's nearest gallery item (exact search) with the probe's truth: `known` when its
    /// label is among the gallery's.
    public static func openSetProbes(gallery: Matrix, galleryLabels: [Int32], probes: Matrix, probeLabels: [Int32],
                                     threads: Int = 0) throws -> [OpenSetIdentification.Probe] {
        let known = Set(galleryLabels)
        let nearest = try exactSearch(queries: probes, base: gallery, k: 1, metric: .l2, threads: resolvedThreadCount(threads))
        return zip(nearest, probeLabels).map { row, label in
            let best = row.first!
            return .init(nearestLabel: galleryLabels[Int(best.id.rawValue)], distance: best.distance, label: label,
                         known: known.contains(label))
        }
    }

    /// Splits labelled items into a gallery of the classes not held out and the rest.
    public static func gallery(_ descriptors: Matrix, labels: [Int32], holdingOut heldOut: Set<Int32>) -> (Matrix, [Int32]) {
        let rows = labels.indices.filter { !heldOut.contains(labels[$0]) }
        return (descriptors.rows(at: rows), rows.map { labels[$0] })
    }

    /// The verification threshold: best balanced accuracy on 100,000 positive and 100,000
    /// negative pairs drawn from labelled (training) descriptors.
    public static func calibrateVerification(_ descriptors: Matrix, labels: [Int32], seed: UInt64 = 11) -> Float {
        Verification.calibrateThreshold(samplePairs(descriptors, labels: labels, positives: 100_000, negatives: 100_000, seed: seed))
    }

    /// The open-set threshold on labelled (training) descriptors: `probeCount` random items probe
    /// a gallery made of the other items whose classes are not held out.
    public static func calibrateOpenSet(_ descriptors: Matrix, labels: [Int32], holdingOut heldOut: Set<Int32>,
                                        probeCount: Int = 5000, seed: UInt64 = 13) throws -> Float {
        var generator = SeededGenerator(seed: seed)
        var order = Array(labels.indices)
        order.shuffle(using: &generator)
        let probeRows = Array(order.prefix(min(probeCount, labels.count / 2)))
        let galleryRows = order.dropFirst(probeRows.count).filter { !heldOut.contains(labels[$0]) }.sorted()
        let probes = try openSetProbes(gallery: descriptors.rows(at: galleryRows), galleryLabels: galleryRows.map { labels[$0] },
                                       probes: descriptors.rows(at: probeRows), probeLabels: probeRows.map { labels[$0] })
        return OpenSetIdentification.calibrateThreshold(probes)
    }

    /// The classes a calibration leaves out of its open-set gallery: the last 30 % of the label
    /// values (at least one), so that some training probes play the unknowns.
    public static func calibrationHoldout(_ labels: [Int32]) -> Set<Int32> {
        let classes = Set(labels).sorted()
        return Set(classes.suffix(max(1, classes.count * 3 / 10)))
    }
}

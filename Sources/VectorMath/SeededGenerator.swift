import RealModule

/// A small, fast, seeded random generator (xoshiro256**, seeded through SplitMix64).
/// Equal seeds give equal streams on every platform, which is what makes k-means, the synthetic
/// generator and the tests reproducible.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var splitMix = seed
        func nextSplitMix() -> UInt64 {
            splitMix &+= 0x9E37_79B9_7F4A_7C15
            var z = splitMix
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = (nextSplitMix(), nextSplitMix(), nextSplitMix(), nextSplitMix())
    }

    /// A generator for stream `stream` of `seed`: independent streams for chunks or items, so
    /// that any part of a large synthetic set can be produced alone.
    public init(seed: UInt64, stream: UInt64) {
        self.init(seed: seed ^ (stream &* 0xD1B5_4A32_D192_ED03) ^ 0x5851_F42D_4C95_7F2D)
    }

    public mutating func next() -> UInt64 {
        let result = rotate(state.1 &* 5, 7) &* 9
        let shifted = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= shifted
        state.3 = rotate(state.3, 45)
        return result
    }

    private func rotate(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// Uniform in [0, 1).
    public mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// Standard normal (Box–Muller).
    public mutating func nextGaussian() -> Double {
        let u1 = max(nextUnit(), 0x1.0p-53)
        let u2 = nextUnit()
        return (-2 * Double.log(u1)).squareRoot() * Double.cos(2 * Double.pi * u2)
    }

    /// Uniform in `0..<bound`.
    public mutating func nextInt(below bound: Int) -> Int {
        Int(next(upperBound: UInt64(bound)))
    }

    /// `count` distinct indices from `0..<population`, in random order (partial Fisher–Yates).
    public mutating func sample(_ count: Int, from population: Int) -> [Int] {
        precondition(count <= population, "cannot sample more than the population")
        if count * 4 < population {
            var chosen = Set<Int>()
            var order: [Int] = []
            while order.count < count {
                let index = nextInt(below: population)
                if chosen.insert(index).inserted { order.append(index) }
            }
            return order
        }
        var all = Array(0 ..< population)
        for i in 0 ..< count {
            all.swapAt(i, i + nextInt(below: population - i))
        }
        return Array(all[0 ..< count])
    }
}

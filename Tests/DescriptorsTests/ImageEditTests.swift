import Testing
@testable import Descriptors
@testable import VectorMath

@Suite struct ImageEditTests {
    static let side = 8
    static let image: [Float] = (0 ..< 64).map { Float(($0 * 29) % 64) / 63 }

    @Test func shiftMovesContentAndFillsWithBlack() {
        var generator = SeededGenerator(seed: 1)
        let moved = ImageEdit.shift(dx: 2, dy: -1).apply(Self.image, side: Self.side, generator: &generator)
        for y in 0 ..< 8 {
            for x in 0 ..< 8 {
                let sx = x - 2, sy = y + 1
                let expected = sx >= 0 && sy < 8 ? Self.image[sy * 8 + sx] : 0
                #expect(moved[y * 8 + x] == expected)
            }
        }
    }

    @Test func aFullCropIsTheIdentityAndACropStaysInRange() {
        var generator = SeededGenerator(seed: 2)
        let same = ImageEdit.crop(keep: 1).apply(Self.image, side: Self.side, generator: &generator)
        for (a, b) in zip(same, Self.image) { #expect(abs(a - b) < 1e-5) }
        let cropped = ImageEdit.crop(keep: 0.75).apply(Self.image, side: Self.side, generator: &generator)
        #expect(cropped != Self.image)
        #expect(cropped.allSatisfy { $0 >= 0 && $0 <= 1 })
    }

    @Test func noiseIsSeededAndClamped() {
        var first = SeededGenerator(seed: 3), second = SeededGenerator(seed: 3)
        let a = ImageEdit.noise(sigma: 0.5).apply(Self.image, side: Self.side, generator: &first)
        let b = ImageEdit.noise(sigma: 0.5).apply(Self.image, side: Self.side, generator: &second)
        #expect(a == b && a != Self.image)
        #expect(a.allSatisfy { $0 >= 0 && $0 <= 1 })
    }

    @Test func duplicateSetsPairEachCopyWithItsOriginal() throws {
        let originals = try Matrix(dimension: 64, values: (0 ..< 20 * 64).map { Float(($0 * 13) % 97) / 96 })
        let set = DuplicateSet(images: originals, side: 8, copies: 6, seed: 4)
        #expect(set.images.rowCount == 26 && set.truePairs.count == 6)
        #expect(DuplicateSet(images: originals, side: 8, copies: 6, seed: 4).images == set.images, "seeded")
        for pair in set.truePairs {
            #expect(pair[0] < 20 && pair[1] >= 20)
            #expect(Array(set.images.row(pair[1])) != Array(originals.row(pair[0])), "an edit changes the image")
        }
    }
}

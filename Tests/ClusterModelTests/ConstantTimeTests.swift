import Testing
@testable import ClusterModel

@Suite struct ConstantTimeTests {
    @Test(arguments: [
        ("secret", "secret", true), ("secret", "secreT", false), ("secret", "secret!", false), ("", "", true),
        ("", "x", false), ("x", "", false), ("é", "e\u{301}", false), ("tok\0", "tok", false),
    ])
    func equalsOnlyForTheSameBytes(a: String, b: String, equal: Bool) {
        #expect(constantTimeEquals(a, b) == equal)
        #expect(constantTimeEquals(b, a) == equal)
    }

    /// A secret padded with 256 NUL bytes is not the secret (a length folded to one byte would
    /// make them equal).
    @Test func paddingWithNULsDoesNotMatch() {
        #expect(!constantTimeEquals("a", "a" + String(repeating: "\0", count: 256)))
        #expect(!constantTimeEquals("", String(repeating: "\0", count: 512)))
    }
}

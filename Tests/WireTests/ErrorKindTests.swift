import ErrorKinds
import Testing
@testable import Wire

@Suite struct ErrorKindTests {
    /// Every kind has its own wire code, and the code reads back to the same kind.
    @Test(arguments: ErrorKind.allCases)
    func eachKindRoundTripsThroughItsWireCode(kind: ErrorKind) {
        #expect(kind.wireCode.kind == kind)
        #expect(ErrorKind.allCases.filter { $0.wireCode == kind.wireCode } == [kind])
    }

    @Test func exitStatusesAreTwoForInputThreeForRetryOneForBugs() {
        #expect(ErrorKind.badInput.exitStatus == 2)
        #expect(ErrorKind.conflict.exitStatus == 2)
        #expect(ErrorKind.unauthorized.exitStatus == 2)
        #expect(ErrorKind.unavailable.exitStatus == 3)
        #expect(ErrorKind.deadlineExceeded.exitStatus == 3)
        #expect(ErrorKind.internalError.exitStatus == 1)
        #expect(ErrorCode.unspecified.kind == .internalError)
    }

    @Test func repliesClassifyAnyError() {
        struct Unclassified: Error {}
        #expect(ErrorReply(classifying: Unclassified()).code == .internalError)
        #expect(ErrorReply(classifying: SightlineError.badInput("k is 0")) == ErrorReply(.badRequest, "k is 0"))
        #expect(ErrorReply(classifying: WireError.unsupportedVersion(got: 9, supported: 1)).code == .unsupportedVersion)
        #expect(ErrorReply(classifying: WireError.malformed("x")).code == .badRequest)
        let reply = ErrorReply(.conflict, "other codebooks")
        #expect(ErrorReply(classifying: reply) == reply)
        #expect(ErrorKind(of: reply) == .conflict)
    }
}

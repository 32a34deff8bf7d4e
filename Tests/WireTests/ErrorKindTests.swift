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
        #expect(ErrorKind.forbidden.exitStatus == 2)
        #expect(ErrorKind.unavailable.exitStatus == 3)
        #expect(ErrorKind.deadlineExceeded.exitStatus == 3)
        #expect(ErrorKind.internalError.exitStatus == 1)
        #expect(ErrorCode.unspecified.kind == .internalError)
    }

    /// The HTTP status is a column of the table: a missing token and a weaker role differ by kind,
    /// not by the words of the message.
    @Test func httpStatusesFollowTheKind() {
        let statuses = Dictionary(uniqueKeysWithValues: ErrorKind.allCases.map { ($0, $0.httpStatus) })
        #expect(statuses == [.badInput: 400, .unauthorized: 401, .forbidden: 403, .notFound: 404, .conflict: 409,
                             .unsupportedVersion: 400, .unavailable: 503, .deadlineExceeded: 504, .internalError: 500])
    }

    /// Code names come from `Proto/sightline.proto` (through protoc-c's descriptor), so the HTTP
    /// API and the clients spell them as the proto does.
    @Test func codeNamesAreTheProtosNames() {
        #expect(ErrorCode.badRequest.name == "BAD_REQUEST")
        #expect(ErrorCode.forbidden.name == "FORBIDDEN")
        #expect(ErrorCode.internalError.name == "INTERNAL")
        #expect(ErrorCode.unsupportedVersion.name == "UNSUPPORTED_VERSION")
        for kind in ErrorKind.allCases {
            #expect(kind.wireCode.name.allSatisfy { $0.isUppercase || $0 == "_" }, "\(kind)")
        }
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

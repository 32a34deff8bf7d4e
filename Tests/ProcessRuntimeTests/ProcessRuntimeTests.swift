import ErrorKinds
import Foundation
import Testing
@testable import ProcessRuntime

@Suite struct ProcessRuntimeTests {
    @Test func coreTypeFollowsTheCPUFlags() {
        #expect(BLASCoreType.detected(cpuinfo: "flags\t: fpu sse avx avx2 fma avx512f avx512bw avx512vl avx512dq\n") == "SkylakeX")
        #expect(BLASCoreType.detected(cpuinfo: "flags\t: fpu sse avx avx2 fma\n") == "Haswell")
        #expect(BLASCoreType.detected(cpuinfo: "flags\t: fpu sse sse2\n") == nil)
        #expect(BLASCoreType.detected(cpuinfo: "no flags line") == nil)
    }

    @Test func tokenComesFromTheFlagThenTheFileAndAMissingFileIsBadInput() throws {
        #expect(try TokenSource.resolve(flag: "abc", file: "/nonexistent") == "abc")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("token-\(getpid())").path
        try "  secret\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try TokenSource.resolve(flag: nil, file: path) == "secret")
        do {
            _ = try TokenSource.resolve(flag: nil, file: path + "-missing")
            Issue.record("a missing token file must throw")
        } catch {
            #expect(error.kind == .badInput)
            #expect(error.description.contains("-missing"))
        }
    }
}

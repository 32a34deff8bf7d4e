import Foundation

/// OpenBLAS picks its kernels from the CPU model; under some hypervisors the model reads as a
/// generic "Intel Xeon Processor" and OpenBLAS 0.3.21 falls back to its SSE3 (Prescott) kernels,
/// 2–3× slower than the AVX2/AVX-512 ones the CPU has. OpenBLAS reads `OPENBLAS_CORETYPE` once,
/// when the library loads (before `main`), so the executables set it from the CPU's flags and
/// re-execute themselves once. A value the user sets is always respected.
public enum BLASCoreType {
    static let guardVariable = "SIGHTLINE_BLAS_CORETYPE_SET"

    /// The core type matching this CPU's flags, or nil when OpenBLAS's own choice should stand.
    public static func detected(cpuinfo: String) -> String? {
        guard let flagsLine = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return nil }
        let flags = Set(flagsLine.split(separator: " ").map(String.init))
        if flags.isSuperset(of: ["avx512f", "avx512bw", "avx512vl", "avx512dq"]) { return "SkylakeX" }
        if flags.isSuperset(of: ["avx2", "fma"]) { return "Haswell" }
        return nil
    }

    /// Re-executes the current process with `OPENBLAS_CORETYPE` set when it is not set yet.
    /// Returns normally (without re-executing) when nothing needs doing or exec fails.
    public static func reexecuteIfNeeded() {
        let environment = ProcessInfo.processInfo.environment
        guard environment["OPENBLAS_CORETYPE"] == nil, environment[guardVariable] == nil else { return }
        guard let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let core = detected(cpuinfo: cpuinfo) else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        setenv(guardVariable, "1", 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // exec failed: carry on with OpenBLAS's own choice.
    }
}

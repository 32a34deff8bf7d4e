// swift-tools-version:6.0
import PackageDescription

// The module graph follows docs/ARCHITECTURE.md; scripts/dev/check-layout fails the test run on any
// dependency or import outside it. The numeric core (VectorMath, Quantization, VectorIndex,
// RetrievalEval, Descriptors) imports only the standard library, the BLAS shim, ErrorKinds,
// Synchronization and Dispatch.
// SIGHTLINE_TARGET_CPU=haswell (or skylake-avx512, …) opts into wider SIMD for the host; the
// default build runs on any x86-64.
let targetCPU = Context.environment["SIGHTLINE_TARGET_CPU"].map { ["-target-cpu", $0] } ?? []

let argumentParser = Target.Dependency.product(name: "ArgumentParser", package: "swift-argument-parser")
let realModule = Target.Dependency.product(name: "RealModule", package: "swift-numerics")

let package = Package(
    name: "Sightline",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "sightline", targets: ["sightline"]),
        .executable(name: "sightline-worker", targets: ["sightline-worker"]),
        .executable(name: "sightline-coordinator", targets: ["sightline-coordinator"]),
        .library(name: "VectorIndex", targets: ["VectorIndex"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-numerics", from: "1.0.0"),
        // The HTTP listener: connection caps, header and idle timeouts, chunked bodies.
        .package(url: "https://github.com/apple/swift-nio", from: "2.81.0"),
        // HTTPS for the HTTP listener (BoringSSL inside).
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.30.0"),
        // Cluster files are TOML: read by a real TOML parser (toml++ inside), not a subset of our own.
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
    ],
    targets: [
        // System-library shims.
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas"),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib"),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng"),
        .systemLibrary(name: "CNNG"),
        .systemLibrary(name: "CProtobufC", pkgConfig: "libprotobuf-c"),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3"),
        .systemLibrary(name: "CMalloc"),

        // protoc-c output for Proto/sightline.proto (regenerate with scripts/dev/gen-proto).
        .target(name: "CSightlineProto", dependencies: ["CProtobufC"]),
        // libjpeg behind setjmp: its default error handler would exit the process on a corrupt upload.
        .target(name: "CJPEGDecode", linkerSettings: [.linkedLibrary("jpeg")]),

        // Error kinds shared by every module (no dependencies).
        .target(name: "ErrorKinds"),

        // Numeric core.
        // Distance main loops in AVX2, chosen at run time (the binary stays portable).
        .target(name: "CSIMDKernels"),
        // The AVX-512 kernels through SIMDe's emulation (libsimde-dev), for the tests alone.
        .target(name: "CSIMDKernelsEmulated"),
        .target(name: "VectorMath", dependencies: ["COpenBLAS", "CSIMDKernels", "ErrorKinds", realModule]),
        .target(name: "Quantization", dependencies: ["VectorMath", "ErrorKinds"]),
        .target(name: "VectorIndex", dependencies: ["Quantization", "VectorMath", "ErrorKinds", "CSIMDKernels"]),
        .target(name: "RetrievalEval", dependencies: ["VectorMath"]),
        .target(name: "Descriptors", dependencies: ["VectorMath", "ErrorKinds", realModule]),

        // Files at the edges.
        .target(name: "Datasets", dependencies: ["VectorMath", "VectorIndex", "ErrorKinds", "CZlib", "CPNG", "CJPEGDecode"]),

        // What every executable does on start and while it runs: BLAS core type, signals, log
        // lines, progress on standard error, the token.
        .target(name: "ProcessRuntime", dependencies: ["ErrorKinds", "CMalloc"]),

        // The single-node jobs of the command line: train, build, ground truth, bench, calibrate.
        .target(
            name: "Workflows",
            dependencies: ["VectorMath", "VectorIndex", "RetrievalEval", "Datasets", "Descriptors", "ErrorKinds", "ProcessRuntime"]),

        // Storage, wire format, transport and the cluster.
        .target(name: "ShardStore", dependencies: ["CSQLite", "ErrorKinds"]),
        .target(name: "Wire", dependencies: ["CSightlineProto", "CProtobufC", "ErrorKinds"]),
        .target(name: "Transport", dependencies: ["CNNG", "ErrorKinds"]),
        .target(name: "ClusterModel", dependencies: ["Wire", "ErrorKinds", .product(name: "TOMLKit", package: "TOMLKit")]),
        .target(name: "ClusterClient", dependencies: ["Wire", "Transport", "ErrorKinds"]),
        .target(
            name: "ServiceSupport",
            dependencies: ["ClusterModel", "Wire", "Transport", "VectorMath", "ProcessRuntime"]),
        // The options both service executables take (swift-argument-parser stays out of the libraries).
        .target(name: "ServiceCommandLine", dependencies: ["Transport", "Wire", argumentParser]),
        .target(
            name: "WorkerService",
            dependencies: [
                "ServiceSupport", "ClusterModel", "Wire", "ShardStore", "VectorIndex", "Quantization", "VectorMath", "ProcessRuntime",
            ]),
        .target(
            name: "CoordinatorService",
            dependencies: [
                "ServiceSupport", "ClusterModel", "ClusterClient", "Wire", "ShardStore", "Transport", "VectorIndex",
                "VectorMath", "ProcessRuntime",
            ]),

        // Uploaded image → descriptor (decoders and the descriptor network), for the HTTP gateway.
        .target(name: "ImageEmbedding", dependencies: ["Datasets", "Descriptors", "VectorMath", "ErrorKinds"]),
        // The coordinator's HTTP/JSON API and web page (on SwiftNIO).
        .target(name: "HTTPGateway", dependencies: [
            "ClusterModel", "Wire", "VectorMath", "ErrorKinds",
            .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "NIOSSL", package: "swift-nio-ssl")]),

        .executableTarget(
            name: "sightline-worker",
            dependencies: [
                "WorkerService", "ServiceSupport", "ServiceCommandLine", "ClusterModel", "ProcessRuntime", "Transport", argumentParser,
            ]),
        .executableTarget(
            name: "sightline-coordinator",
            dependencies: [
                "CoordinatorService", "HTTPGateway", "ImageEmbedding", "ServiceSupport", "ServiceCommandLine", "ClusterModel", "ShardStore",
                "ProcessRuntime", "Transport", "Workflows", "Datasets", "VectorIndex", "VectorMath", "ErrorKinds", argumentParser,
            ]),
        .executableTarget(
            name: "sightline",
            dependencies: [
                "Workflows", "Datasets", "VectorIndex", "RetrievalEval", "VectorMath", "ClusterClient", "ClusterModel", "Wire", "Transport",
                "Descriptors", "ErrorKinds", "ProcessRuntime", "ShardStore", argumentParser,
            ]),

        .testTarget(name: "VectorMathTests", dependencies: ["VectorMath", "CSIMDKernels"]),
        .testTarget(name: "QuantizationTests", dependencies: ["Quantization", "VectorMath"]),
        .testTarget(name: "VectorIndexTests", dependencies: ["VectorIndex", "Quantization", "VectorMath", "Datasets", "CSIMDKernels",
                                                             "CSIMDKernelsEmulated"]),
        .testTarget(name: "RetrievalEvalTests", dependencies: ["RetrievalEval", "VectorMath"]),
        .testTarget(name: "DescriptorsTests", dependencies: ["Descriptors", "VectorMath", "Datasets", "RetrievalEval"]),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "VectorMath"]),
        .testTarget(name: "WorkflowsTests", dependencies: ["Workflows", "Datasets", "VectorIndex", "ErrorKinds", "ProcessRuntime"]),
        .testTarget(name: "ProcessRuntimeTests", dependencies: ["ProcessRuntime", "ErrorKinds"]),
        .testTarget(name: "CLITests", dependencies: ["Descriptors", "Datasets", "VectorMath"]),
        .testTarget(name: "WireTests", dependencies: ["Wire", "ErrorKinds"]),
        .testTarget(name: "TransportTests", dependencies: ["Transport", "CNNG"]),
        .testTarget(name: "ShardStoreTests", dependencies: ["ShardStore"]),
        .testTarget(name: "ClusterModelTests", dependencies: ["ClusterModel", "ErrorKinds"]),
        .testTarget(name: "HTTPGatewayTests", dependencies: ["HTTPGateway", "ImageEmbedding", "ClusterModel", "Wire"]),
        .testTarget(name: "ServiceSupportTests", dependencies: ["ServiceSupport", "ClusterModel", "Wire", "VectorMath"]),
        // A worker's placement rules, without a process or a store.
        .testTarget(name: "WorkerServiceTests", dependencies: ["WorkerService", "ClusterModel", "Wire"]),
        // The coordinator's parts on a manual clock, without processes or sleeps.
        .testTarget(name: "CoordinatorServiceTests",
                    dependencies: ["CoordinatorService", "ServiceSupport", "ClusterModel", "ShardStore", "Transport", "Wire"]),
        .testTarget(
            name: "ClusterTests",
            dependencies: [
                "ClusterClient", "WorkerService", "CoordinatorService", "ClusterModel", "ServiceSupport", "ShardStore", "Transport", "Wire",
                "VectorIndex",
                "VectorMath", "Datasets",
            ]),
    ]
)

// Fuzz targets (libFuzzer): only with SIGHTLINE_FUZZ=1, built by scripts/dev/fuzz with -sanitize=fuzzer.
if Context.environment["SIGHTLINE_FUZZ"] == "1" {
    package.targets.append(.executableTarget(
        name: "sightline-fuzz",
        dependencies: ["ClusterModel", "Descriptors", "ServiceSupport", "VectorIndex", "VectorMath", "Wire", "WorkerService"]))
}

// One set of Swift settings for every Swift target: strict existential spelling everywhere, and
// release builds without dynamic exclusivity checks (measured faster in the scan loops).
for target in package.targets where target.type != .system && target.name != "CSightlineProto" {
    target.swiftSettings = (target.swiftSettings ?? []) + [
        .enableUpcomingFeature("ExistentialAny"),
        .unsafeFlags(["-enforce-exclusivity=unchecked"] + targetCPU, .when(configuration: .release)),
    ]
}

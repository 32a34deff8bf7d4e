// swift-tools-version:6.0
import PackageDescription

// The numeric core (VectorMath, Quantization, VectorIndex, RetrievalEval) imports only the
// standard library, the BLAS shim, Synchronization and Dispatch; scripts/check-layout enforces it.
// SIGHTLINE_TARGET_CPU=haswell (or skylake-avx512, …) opts into wider SIMD for the host; the
// default build runs on any x86-64.
let targetCPU = Context.environment["SIGHTLINE_TARGET_CPU"].map { ["-target-cpu", $0] } ?? []
let releaseSpeed: [SwiftSetting] = [
    .unsafeFlags(["-enforce-exclusivity=unchecked"] + targetCPU, .when(configuration: .release)),
]

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
    ],
    targets: [
        // System-library shims.
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas"),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib"),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng"),
        .systemLibrary(name: "CNNG"),
        .systemLibrary(name: "CProtobufC", pkgConfig: "libprotobuf-c"),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3"),

        // protoc-c output for Proto/sightline.proto (regenerate with scripts/gen-proto).
        .target(name: "CSightlineProto", dependencies: ["CProtobufC"]),

        // Numeric core.
        .target(
            name: "VectorMath",
            dependencies: ["COpenBLAS", .product(name: "RealModule", package: "swift-numerics")],
            swiftSettings: releaseSpeed),
        .target(name: "Quantization", dependencies: ["VectorMath"], swiftSettings: releaseSpeed),
        .target(name: "VectorIndex", dependencies: ["Quantization", "VectorMath"], swiftSettings: releaseSpeed),
        .target(name: "RetrievalEval", dependencies: ["VectorMath"], swiftSettings: releaseSpeed),

        .target(name: "Descriptors", dependencies: ["VectorMath", .product(name: "RealModule", package: "swift-numerics")], swiftSettings: releaseSpeed),

        // Data at the edges.
        .target(name: "Datasets", dependencies: ["VectorMath", "CZlib", "CPNG"], swiftSettings: releaseSpeed),

        // Workflows shared by the executables (train, build, search, bench).
        .target(
            name: "SightlineKit",
            dependencies: ["VectorMath", "Quantization", "VectorIndex", "RetrievalEval", "Datasets", "Descriptors"],
            swiftSettings: releaseSpeed),

        // Storage, wire format, transport and the cluster.
        .target(name: "ShardStore", dependencies: ["CSQLite", "VectorIndex"]),
        .target(name: "Wire", dependencies: ["CSightlineProto", "CProtobufC", "VectorIndex"]),
        .target(name: "Transport", dependencies: ["CNNG"]),
        .target(name: "ClusterModel"),
        .target(name: "ClusterClient", dependencies: ["Wire", "Transport"]),
        .target(
            name: "ServiceSupport",
            dependencies: ["ClusterModel", "Wire", "ShardStore", "Transport", "VectorIndex", "Quantization", "VectorMath"]),
        .target(
            name: "WorkerService",
            dependencies: ["ServiceSupport", "ClusterModel", "Wire", "ShardStore", "VectorIndex", "Quantization", "VectorMath"],
            swiftSettings: releaseSpeed),
        .target(
            name: "CoordinatorService",
            dependencies: ["ServiceSupport", "ClusterModel", "Wire", "ShardStore", "Transport", "VectorIndex", "VectorMath"],
            swiftSettings: releaseSpeed),

        .executableTarget(
            name: "sightline-worker",
            dependencies: [
                "WorkerService", "ServiceSupport", "ClusterModel", "ClusterClient", "Transport", "Wire", "SightlineKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .executableTarget(
            name: "sightline-coordinator",
            dependencies: [
                "CoordinatorService", "ServiceSupport", "ClusterModel", "ShardStore", "Transport", "Wire", "SightlineKit",
                "Datasets", "VectorIndex", "VectorMath",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .executableTarget(
            name: "sightline",
            dependencies: [
                "SightlineKit", "Datasets", "VectorIndex", "RetrievalEval", "VectorMath", "ClusterClient", "Wire", "Descriptors",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        .testTarget(name: "VectorMathTests", dependencies: ["VectorMath"]),
        .testTarget(name: "QuantizationTests", dependencies: ["Quantization", "VectorMath"]),
        .testTarget(name: "VectorIndexTests", dependencies: ["VectorIndex", "Quantization", "VectorMath", "Datasets"]),
        .testTarget(name: "RetrievalEvalTests", dependencies: ["RetrievalEval", "VectorMath"]),
        .testTarget(name: "DescriptorsTests", dependencies: ["Descriptors", "VectorMath", "Datasets", "RetrievalEval"]),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "VectorMath"]),
        .testTarget(name: "SightlineKitTests", dependencies: ["SightlineKit", "Datasets", "VectorIndex"]),
        .testTarget(name: "CLITests", dependencies: ["Descriptors", "Datasets", "VectorMath"]),
        .testTarget(name: "WireTests", dependencies: ["Wire", "Transport", "ClusterModel"]),
        .testTarget(name: "ShardStoreTests", dependencies: ["ShardStore"]),
        .testTarget(name: "ClusterTests", dependencies: ["ClusterClient", "Wire", "VectorIndex", "VectorMath", "Datasets", "Transport"]),
    ]
)

// swift-tools-version:6.0
import PackageDescription

// The numeric core (VectorMath, Quantization, VectorIndex, RetrievalEval) imports only the
// standard library, the BLAS shim, Synchronization and Dispatch; scripts/check-layout enforces it.
let releaseSpeed: [SwiftSetting] = [
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "Sightline",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "sightline", targets: ["sightline"]),
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

        // Numeric core.
        .target(
            name: "VectorMath",
            dependencies: ["COpenBLAS", .product(name: "RealModule", package: "swift-numerics")],
            swiftSettings: releaseSpeed),
        .target(name: "Quantization", dependencies: ["VectorMath"], swiftSettings: releaseSpeed),
        .target(name: "VectorIndex", dependencies: ["Quantization", "VectorMath"], swiftSettings: releaseSpeed),
        .target(name: "RetrievalEval", dependencies: ["VectorMath"], swiftSettings: releaseSpeed),

        // Data at the edges.
        .target(name: "Datasets", dependencies: ["VectorMath", "CZlib"], swiftSettings: releaseSpeed),

        // Workflows shared by the executables (train, build, search, bench).
        .target(
            name: "SightlineKit",
            dependencies: ["VectorMath", "Quantization", "VectorIndex", "RetrievalEval", "Datasets"],
            swiftSettings: releaseSpeed),

        .executableTarget(
            name: "sightline",
            dependencies: [
                "SightlineKit", "Datasets", "VectorIndex", "RetrievalEval",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        .testTarget(name: "VectorMathTests", dependencies: ["VectorMath"]),
        .testTarget(name: "QuantizationTests", dependencies: ["Quantization", "VectorMath"]),
        .testTarget(name: "VectorIndexTests", dependencies: ["VectorIndex", "Quantization", "VectorMath", "Datasets"]),
        .testTarget(name: "RetrievalEvalTests", dependencies: ["RetrievalEval", "VectorMath"]),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "VectorMath"]),
        .testTarget(name: "SightlineKitTests", dependencies: ["SightlineKit", "Datasets", "VectorIndex"]),
        .testTarget(name: "CLITests", dependencies: []),
    ]
)

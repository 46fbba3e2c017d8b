// swift-tools-version:6.0
import PackageDescription

// Library targets use the standard library and Foundation only (see "Architecture" in README.md).
let optimize: [SwiftSetting] = [.unsafeFlags(["-Ounchecked", "-wmo"], .when(configuration: .release))]

let package = Package(
    name: "TokenPress",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "tokenpress", targets: ["tokenpress"]),
        // The library: `import TokenPress` for the model actor, sessions, compressed documents, presses and cache.
        .library(name: "TokenPress", targets: ["TokenPressKit"]),
        // For the coverage-guided fuzzers in Fuzz/ (a package of their own, built with -sanitize=fuzzer).
        .library(name: "TokenPressFuzzing", targets: ["GGUF", "Tokenizer", "Models", "TestSupport"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .target(name: "GGUF", swiftSettings: optimize),
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-O3"])]),
        .target(name: "Kernels", dependencies: ["CKernels"], swiftSettings: optimize),
        .target(name: "Tokenizer", dependencies: ["GGUF"], swiftSettings: optimize),
        .target(name: "KVCache", dependencies: ["Kernels"], swiftSettings: optimize),
        .target(name: "Presses", dependencies: ["KVCache", "Kernels", "Sampling"], swiftSettings: optimize),
        .target(name: "Models", dependencies: ["GGUF", "Kernels", "KVCache"], swiftSettings: optimize),
        .target(name: "Sampling", dependencies: ["Kernels"], swiftSettings: optimize),
        .target(name: "Engine", dependencies: ["Models", "Tokenizer", "Sampling", "KVCache", "Kernels", "GGUF", "Presses"], swiftSettings: optimize),
        .target(name: "TokenPressKit", dependencies: ["Engine", "KVCache", "Presses", "Sampling", "Tokenizer", "GGUF"],
                swiftSettings: optimize),
        .target(name: "Evaluation", dependencies: ["Engine", "Presses", "KVCache", "Sampling"],
                resources: [.copy("Resources/ruler_samples.py")], swiftSettings: optimize),
        .target(name: "TestSupport", dependencies: ["GGUF", "Sampling"], path: "Sources/TestSupport"),
        .executableTarget(
            name: "tokenpress",
            dependencies: ["Engine", "Evaluation", "Models", "Tokenizer", "GGUF", "Sampling", "Presses", "KVCache",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: optimize),
        .testTarget(name: "GGUFTests", dependencies: ["GGUF", "TestSupport"]),
        .testTarget(name: "KernelsTests", dependencies: ["Kernels", "GGUF", "Sampling"], resources: [.copy("Fixtures")]),
        .testTarget(name: "TokenizerTests", dependencies: ["Tokenizer", "GGUF", "Sampling", "Engine", "TestSupport"]),
        .testTarget(name: "ModelsTests", dependencies: ["Models", "GGUF", "Kernels", "KVCache", "Engine", "Sampling", "Tokenizer", "TestSupport"]),
        .testTarget(name: "FidelityTests", dependencies: ["Engine", "Models", "Tokenizer", "GGUF", "Kernels", "KVCache", "Presses"], resources: [.copy("Fixtures")]),
        .testTarget(name: "PressesTests", dependencies: ["Presses", "Engine", "KVCache", "Models", "TestSupport", "Sampling", "Kernels"]),
        .testTarget(name: "EvaluationTests", dependencies: ["Evaluation", "Engine", "TestSupport"]),
        .testTarget(name: "TokenPressKitTests", dependencies: ["TokenPressKit"]),
        .testTarget(name: "CLITests", dependencies: ["Evaluation", "GGUF", "TestSupport", "tokenpress"]),
    ],
    swiftLanguageModes: [.v6]
)

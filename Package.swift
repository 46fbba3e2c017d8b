// swift-tools-version:6.1
import PackageDescription

// TokenPress: a CPU engine for GGUF models with a compressible KV cache. The targets, what each holds and how they
// depend on each other are in README.md, section "Architecture". Library targets use the standard library and
// Foundation only.
//
// No target sets unsafeFlags, so the package builds as a versioned dependency: release builds use SwiftPM's `-O`
// (whole-module) for Swift and `-O2` for C. The hot loops are written to need nothing more (unsafe pointers where
// bounds are known, wrapping arithmetic, batched appends); README.md, section "Speed", measures `-O` against the
// `-Ounchecked` builds of earlier versions.

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
        // The server (`tokenpress serve`): HTTP/1.1 and Prometheus metrics. No traits: swift-configuration unused.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.0", traits: []),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.24.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
    ],
    targets: [
        .target(name: "GGUF"),
        .target(name: "CKernels"),
        .target(name: "Kernels", dependencies: ["CKernels"]),
        .target(name: "Tokenizer", dependencies: ["GGUF"]),
        .target(name: "KVCache", dependencies: ["Kernels"]),
        .target(name: "Presses", dependencies: ["KVCache", "Kernels", "Sampling"]),
        .target(name: "Models", dependencies: ["GGUF", "Kernels", "KVCache"]),
        .target(name: "Sampling", dependencies: ["Kernels"]),
        .target(name: "Engine",
                dependencies: ["Models", "Tokenizer", "Sampling", "KVCache", "Kernels", "GGUF", "Presses"]),
        .target(name: "TokenPressKit",
                dependencies: ["Engine", "Evaluation", "KVCache", "Presses", "Sampling", "Tokenizer", "GGUF"]),
        .target(name: "Evaluation", dependencies: ["Engine", "Presses", "KVCache", "Sampling"],
                resources: [.copy("Resources/ruler_samples.py")]),
        .target(name: "Server",
                dependencies: ["Engine", "Evaluation", "KVCache", "Presses", "Sampling", "Tokenizer",
                               .product(name: "Hummingbird", package: "hummingbird"),
                               .product(name: "HummingbirdCore", package: "hummingbird"),
                               .product(name: "NIOCore", package: "swift-nio"),
                               .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                               .product(name: "Logging", package: "swift-log"),
                               .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                               .product(name: "Prometheus", package: "swift-prometheus")],
                resources: [.copy("Resources/index.html")]),
        .target(name: "TestSupport", dependencies: ["GGUF", "Sampling"], path: "Sources/TestSupport"),
        .executableTarget(
            name: "tokenpress",
            dependencies: ["Engine", "Evaluation", "Server", "Models", "Tokenizer", "GGUF", "Sampling", "Presses", "KVCache",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .testTarget(name: "GGUFTests", dependencies: ["GGUF", "TestSupport"]),
        .testTarget(name: "KernelsTests", dependencies: ["Kernels", "GGUF", "Sampling"], resources: [.copy("Fixtures")]),
        .testTarget(name: "TokenizerTests", dependencies: ["Tokenizer", "GGUF", "Sampling", "Engine", "TestSupport"]),
        .testTarget(name: "ModelsTests", dependencies: ["Models", "GGUF", "Kernels", "KVCache", "Engine", "Sampling", "Tokenizer",
                                                       "TestSupport", "Presses"]),
        .testTarget(name: "FidelityTests", dependencies: ["Engine", "Models", "Tokenizer", "GGUF", "Kernels", "KVCache", "Presses"], resources: [.copy("Fixtures")]),
        .testTarget(name: "PressesTests", dependencies: ["Presses", "Engine", "KVCache", "Models", "TestSupport", "Sampling", "Kernels"]),
        .testTarget(name: "EvaluationTests", dependencies: ["Evaluation", "Engine", "Presses", "TestSupport"]),
        .testTarget(name: "TokenPressKitTests", dependencies: ["TokenPressKit"]),
        .testTarget(name: "ServerTests",
                    dependencies: ["Server", "Engine", "TestSupport",
                                   .product(name: "HummingbirdTesting", package: "hummingbird")]),
        .testTarget(name: "CLITests", dependencies: ["Evaluation", "GGUF", "TestSupport", "tokenpress"]),
    ],
    swiftLanguageModes: [.v6]
)

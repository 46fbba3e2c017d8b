// swift-tools-version:6.0
import PackageDescription

// Coverage-guided fuzzers (libFuzzer) for the GGUF reader and the tokenizer. Not part of CI; see Fuzz/README.md.
let package = Package(
    name: "TokenPressFuzz",
    dependencies: [.package(name: "TokenPress", path: "..")],
    targets: [
        .executableTarget(name: "FuzzGGUF", dependencies: [.product(name: "TokenPressFuzzing", package: "TokenPress")]),
        .executableTarget(name: "FuzzTokenizer", dependencies: [.product(name: "TokenPressFuzzing", package: "TokenPress")]),
    ],
    swiftLanguageModes: [.v6]
)

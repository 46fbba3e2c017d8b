// swift-tools-version:6.0
import PackageDescription

// A dependent of TokenPress, as a user's package would be: it depends on the library product by path.
let package = Package(
    name: "TokenPressExamples",
    platforms: [.macOS(.v14)],
    dependencies: [.package(name: "TokenPress", path: "..")],
    targets: [
        .executableTarget(name: "AskDocument", dependencies: [.product(name: "TokenPress", package: "TokenPress")]),
    ],
    swiftLanguageModes: [.v6]
)

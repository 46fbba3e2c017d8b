import Presses

/// `--kv-memory` and `--max-kl` lists (comma-separated or repeated) of the commands that sweep configurations
/// (`eval`, `bench`), as target press specifications: `target:memory=SHARE`, `target:bytes=N`, `target:kl=X`.
enum TargetSpecifications {
    static func make(memory: [String], kl: [String]) throws -> [String] {
        let sizes = try memory.flatMap { $0.split(separator: ",").map(String.init) }.map { text -> String in
            switch try CompressionTarget.memory(text) {
            case .share(let share): return "target:memory=\(share)"
            case .bytes(let bytes): return "target:bytes=\(bytes)"
            case .meanKL(let bound): return "target:kl=\(bound)"
            }
        }
        let bounds = try kl.flatMap { $0.split(separator: ",").map(String.init) }.map { text -> String in
            guard let value = Double(text) else { throw CLIError("--max-kl takes numbers, got '\(text)'") }
            _ = try CompressionTarget.klBound(value)
            return "target:kl=\(value)"
        }
        return sizes + bounds
    }
}

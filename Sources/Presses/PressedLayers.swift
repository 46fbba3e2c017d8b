import Foundation
import KVCache

/// Which layers a press compresses: `global` (the default) skips sliding-window layers, as kvpress does for
/// Gemma 3 — on a model without them it is every layer; `all`; or a list of layer indices.
public enum PressedLayers: Sendable, Equatable, CustomStringConvertible {
    case global
    case all
    case list([Int])

    /// Parses `global`, `all` or comma-separated layer indices (`0,5,11`).
    public init(parsing text: String) throws {
        switch text {
        case "global": self = .global
        case "all": self = .all
        default:
            let parts = text.split(separator: ",", omittingEmptySubsequences: false)
            let indices = parts.compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !parts.isEmpty, indices.count == parts.count, indices.allSatisfy({ $0 >= 0 }) else {
                let reason = "expected global, all or layer indices such as 0,5,11; got '\(text)'"
                throw PressError.invalidParameter(name: "press-layers", reason: reason)
            }
            self = .list(Array(Set(indices)).sorted())
        }
    }

    public var description: String {
        switch self {
        case .global: return "global"
        case .all: return "all"
        case .list(let indices): return indices.map(String.init).joined(separator: ",")
        }
    }

    /// The indices chosen among layers that attend as `specs` say.
    public func layers(specs: [AttentionSpec]) throws -> [Int] {
        switch self {
        case .all:
            return Array(specs.indices)
        case .global:
            let global = specs.indices.filter { specs[$0].slidingWindow == nil }
            return global.isEmpty ? Array(specs.indices) : global
        case .list(let indices):
            if let bad = indices.first(where: { $0 >= specs.count }) {
                let last = specs.count - 1
                let reason = "layer \(bad) does not exist: the model has \(specs.count) layers (0 ... \(last))"
                throw PressError.invalidParameter(name: "press-layers", reason: reason)
            }
            return indices
        }
    }

    /// `press` restricted to the chosen layers; the press itself when they are every layer (or there is none).
    public func restrict(_ press: (any KVPress)?, specs: [AttentionSpec]) throws -> (any KVPress)? {
        guard let press else { return nil }
        // A target is about the whole cache: its plan spans every layer.
        if press is TargetPress { return press }
        let chosen = try layers(specs: specs)
        guard chosen.count < specs.count else { return press }
        let label = self == .global ? "global layers" : "layers \(chosen.map(String.init).joined(separator: ","))"
        return LayerSubsetPress(press, layers: chosen, label: label)
    }
}

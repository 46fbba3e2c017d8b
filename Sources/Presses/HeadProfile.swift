import Foundation
import KVCache

/// How much each KV head retrieves from far back in the context, measured once per model by
/// `tokenpress calibrate` (RazorAttention's echo and induction scores on a repeated random sequence, and the
/// attention mass on the answer of synthetic passkey prompts — a training-free stand-in for DuoAttention's
/// optimized gates). Plain JSON, saved next to the model.
public struct HeadProfile: Codable, Sendable, Equatable {
    public var model: String
    public var layers: Int
    public var kvHeads: Int
    /// [layer][kvHead]: mean attention a query gives to the earlier copy of its own token (max over the group).
    public var echo: [[Float]]
    /// [layer][kvHead]: mean attention a query gives to the token that followed its token's earlier copy.
    public var induction: [[Float]]
    /// [layer][kvHead]: mean attention the question gives to the passkey's tokens.
    public var passkey: [[Float]]
    /// [layer][queryHead]: echo + induction of each query head (for presses that pick query heads within a group;
    /// absent from profiles measured before it existed).
    public var queryRetrieval: [[Float]]?
    /// Output KL per unit of attention mass at each storage option, per head (the target allocator's cost model;
    /// absent until a target is first used or `tokenpress calibrate --sensitivity` measures it).
    public var sensitivity: HeadSensitivity?

    public init(model: String, echo: [[Float]], induction: [[Float]], passkey: [[Float]]) {
        self.model = model
        layers = echo.count
        kvHeads = echo.first?.count ?? 0
        self.echo = echo
        self.induction = induction
        self.passkey = passkey
    }

    /// A stand-in with the right fields, for checking press specifications before a model is loaded.
    public static var placeholder: HeadProfile {
        var p = HeadProfile(model: "", echo: [[0]], induction: [[0]], passkey: [[0]])
        p.queryRetrieval = [[0]]
        return p
    }

    /// RazorAttention's retrieval score: echo plus induction.
    public var retrieval: [[Float]] { zip(echo, induction).map { zip($0, $1).map { $0 + $1 } } }

    /// (layer, head) pairs ordered from the most to the least retrieving by `score`.
    public static func ranking(_ score: [[Float]]) -> [(layer: Int, head: Int)] {
        var all: [(layer: Int, head: Int, score: Float)] = []
        for (l, row) in score.enumerated() { for (h, s) in row.enumerated() { all.append((l, h, s)) } }
        let ranked = all.sorted { a, b in
            a.score != b.score ? a.score > b.score : (a.layer, a.head) < (b.layer, b.head)
        }
        return ranked.map { ($0.layer, $0.head) }
    }

    /// The profile file that belongs next to `modelPath`.
    public static func path(forModel modelPath: String) -> String { modelPath + ".profile.json" }

    public static func load(_ path: String) throws -> HeadProfile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PressError.invalidParameter(name: "profile", reason: "cannot read \(path)")
        }
        do {
            let profile = try JSONDecoder().decode(HeadProfile.self, from: data)
            guard profile.layers > 0, profile.kvHeads > 0,
                  [profile.echo, profile.induction, profile.passkey].allSatisfy({ grid in
                       grid.count == profile.layers && grid.allSatisfy { $0.count == profile.kvHeads }
                   })
            else { throw PressError.invalidParameter(name: "profile", reason: "\(path) has inconsistent shapes") }
            try profile.sensitivity?.check(layers: profile.layers, kvHeads: profile.kvHeads)
            return profile
        } catch let error as PressError {
            throw error
        } catch {
            throw PressError.invalidParameter(name: "profile", reason: "\(path) is not a head profile (\(error.localizedDescription))")
        }
    }

    /// The profile as pretty-printed JSON (what `load` reads).
    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self)
    }

    /// The rows of the layers `cache` holds (all of them, or a view's `modelLayers`), after checking the profile
    /// was measured on a model of the cache's shape.
    public func selecting(for cache: KVCache) throws -> HeadProfile {
        guard cache.modelLayers != Array(cache.layers.indices) else {
            try check(layers: cache.layers.count, kvHeads: cache.kvHeads)
            return self
        }
        try check(layers: layers, kvHeads: cache.kvHeads)
        guard let last = cache.modelLayers.last, last < layers else {
            let reason = "measured on \(layers) layers, the cache holds layer \(cache.modelLayers.last ?? 0)"
            throw PressError.invalidParameter(name: "profile", reason: reason)
        }
        let rows = cache.modelLayers
        var selected = HeadProfile(model: model, echo: rows.map { echo[$0] }, induction: rows.map { induction[$0] },
                                   passkey: rows.map { passkey[$0] })
        selected.queryRetrieval = queryRetrieval.map { all in rows.map { all[$0] } }
        selected.sensitivity = sensitivity?.selecting(rows)
        return selected
    }

    /// Refuses a profile measured on a model of another shape.
    public func check(layers: Int, kvHeads: Int) throws {
        guard layers == self.layers, kvHeads == self.kvHeads else {
            let shape = "measured on \(self.layers) layers × \(self.kvHeads) KV heads, the model has \(layers) × \(kvHeads)"
            throw PressError.invalidParameter(name: "profile", reason: shape)
        }
    }
}

// Based on: MiniCache: KV Cache Compression in Depth Dimension for Large Language Models (arXiv 2405.14366).
import Foundation
import KVCache

/// Merges adjacent layers of the deeper half in pairs (start, start + 1), (start + 2, start + 3), …: in each KV head,
/// a token both layers retain is stored once, as a unit key direction and a unit value direction interpolated on
/// the sphere (SLERP at `interpolation`, 0 = the first layer's, 1 = the second's) plus each layer's own key and value
/// magnitudes, so each layer still reads vectors of its own length. The `retained` share of token pairs whose
/// directions differ most (angle of keys or values) stays unmerged in both layers, and so does every pair further
/// apart than `maximumAngle` (the paper's premise is that deep adjacent layers are similar; where they are not — on
/// SmolLM2-135M keys and values of adjacent layers are about 90° apart — merging them would replace each layer's
/// vectors with a direction far from both, so they stay as they are). A merged token costs
/// 4·d + 12 bytes instead of 2·(4·d + 4): the shared `SharedTokens` segment is real storage, counted once.
/// The ratio is ignored (what merges follows the directions); compose with an eviction press (`tova+minicache`)
/// to merge what it kept. Tokens added after the press, and presses run after it, use each layer's own storage.
public struct MiniCachePress: KVPress {
    /// First layer merged (nil: half the layer count, as the paper starts from the middle).
    public let startLayer: Int?
    public let interpolation: Float
    public let retained: Double
    /// Pairs whose keys or values are further apart than this (degrees) are never merged.
    public let maximumAngle: Float
    public var description: String { "minicache" }

    /// Parameter defaults: the initializer's and the ones declared to the registry.
    public enum Defaults {
        public static let interpolation: Float = 0.6
        public static let retained = 0.05
        public static let maximumAngle: Float = 45
    }

    public init(startLayer: Int? = nil, interpolation: Float = Defaults.interpolation,
                retained: Double = Defaults.retained, maximumAngle: Float = Defaults.maximumAngle) throws {
        guard (0 ... 180).contains(maximumAngle) else {
            throw PressError.invalidParameter(name: "angle", reason: "must be in [0, 180] degrees, got \(maximumAngle)")
        }
        if let startLayer, startLayer < 0 { throw PressError.invalidParameter(name: "start", reason: "must be ≥ 0, got \(startLayer)") }
        guard (0 ... 1).contains(interpolation) else {
            throw PressError.invalidParameter(name: "t", reason: "must be in [0, 1], got \(interpolation)")
        }
        guard (0 ... 1).contains(retained) else {
            throw PressError.invalidParameter(name: "retain", reason: "must be in [0, 1], got \(retained)")
        }
        self.startLayer = startLayer
        self.interpolation = interpolation
        self.retained = retained
        self.maximumAngle = maximumAngle
    }

    /// The layer pairs merged in a model of `layers` layers.
    public func pairs(layers: Int) -> [Int] {
        Array(stride(from: startLayer ?? layers / 2, to: layers - 1, by: 2))
    }

    public func compress(_ cache: KVCache) throws {
        if let startLayer, startLayer >= cache.layers.count - 1 {
            let reason = "layer \(startLayer) has no next layer to merge with (the model has \(cache.layers.count))"
            throw PressError.invalidParameter(name: "start", reason: reason)
        }
        for first in pairs(layers: cache.layers.count) {
            for h in 0 ..< cache.kvHeads { merge(cache, firstLayer: first, head: h) }
        }
    }

    /// Merges head `head` of layers `first` and `first + 1` (a head that already shares tokens is left alone).
    func merge(_ cache: KVCache, firstLayer first: Int, head h: Int) {
        let a = cache.layers[first].heads[h], b = cache.layers[first + 1].heads[h]
        guard !a.isSharing, !b.isSharing else { return }
        // Tokens both layers retain (positions ascend in each).
        let pa = a.positions
        let pb = b.positions
        var pairs: [(Int, Int)] = []
        var i = 0
        var j = 0
        while i < pa.count, j < pb.count {
            if pa[i] == pb[j] {
                pairs.append((i, j))
                i += 1
                j += 1
            } else if pa[i] < pb[j] {
                i += 1
            } else {
                j += 1
            }
        }
        guard !pairs.isEmpty else { return }
        let tokens = pairs.map { (first: a.token($0.0), second: b.token($0.1)) }
        // The most different pairs (and any with a zero vector, whose direction is undefined) stay unmerged.
        let distances = tokens.map { max(Self.angle($0.first.key, $0.second.key), Self.angle($0.first.value, $0.second.value)) / Float.pi }
        let keepCount = Int((retained * Double(pairs.count)).rounded(.up))
        let kept = Set(TopK.indices(of: distances, count: keepCount))
        let limit = maximumAngle / 180
        let merged = pairs.indices.filter { !kept.contains($0) && distances[$0] <= limit }
        guard !merged.isEmpty else { return }
        let shared = SharedTokens(headDimension: a.headDimension)
        for m in merged {
            let (x, y) = tokens[m]
            let keyDirection = Self.slerp(x.key, y.key, interpolation)
            let valueDirection = Self.slerp(x.value, y.value, interpolation)
            shared.append(keyDirection: keyDirection, valueDirection: valueDirection,
                          keyMagnitudes: (Self.norm(x.key), Self.norm(y.key)),
                          valueMagnitudes: (Self.norm(x.value), Self.norm(y.value)), position: Int(pa[pairs[m].0]))
        }
        cache.share(shared, firstLayer: first, head: h, removing: (merged.map { pairs[$0].0 }, merged.map { pairs[$0].1 }))
    }

    public static func norm(_ x: [Float]) -> Float { sqrt(x.reduce(0) { $0 + $1 * $1 }) }

    /// Angle between two vectors in [0, π]; infinite when either is zero.
    public static func angle(_ x: [Float], _ y: [Float]) -> Float {
        let nx = norm(x), ny = norm(y)
        guard nx > 0, ny > 0 else { return .infinity }
        let cosine = zip(x, y).reduce(0) { $0 + $1.0 * $1.1 } / (nx * ny)
        return acos(min(1, max(-1, cosine)))
    }

    /// Spherical interpolation of the directions of `x` and `y` (a unit vector); linear when they are nearly parallel.
    public static func slerp(_ x: [Float], _ y: [Float], _ t: Float) -> [Float] {
        let nx = norm(x), ny = norm(y)
        let u = x.map { $0 / nx }, v = y.map { $0 / ny }
        let omega = acos(min(1, max(-1, zip(u, v).reduce(0) { $0 + $1.0 * $1.1 })))
        var mixed: [Float]
        if omega < 1e-4 {
            mixed = zip(u, v).map { (1 - t) * $0 + t * $1 }
        } else {
            let s = sin(omega), wu = sin((1 - t) * omega) / s, wv = sin(t * omega) / s
            mixed = zip(u, v).map { wu * $0 + wv * $1 }
        }
        let n = norm(mixed)
        if n > 0 { mixed = mixed.map { $0 / n } }
        return mixed
    }
}

extension MiniCachePress {
    public static let declaration = PressDeclaration(
        name: "minicache", family: .merging,
        summary: "layers from `start` on, in pairs: a token both layers of a pair keep is stored once per KV head, as "
            + "unit key and value directions interpolated on the sphere (SLERP at `t`) plus each layer's key and "
            + "value magnitudes (`SharedTokens`: 4·d + 12 bytes instead of 2·(4·d + 4), counted once); pairs "
            + "further apart than `angle` degrees, and the `retain` share that differ most, stay unmerged "
            + "(compose after an eviction press: `tova+minicache`)",
        paper: "MiniCache",
        parameters: [
            .computedInteger("start", "layers/2", "first merged layer"),
            .real("t", Defaults.interpolation, "SLERP position between the pair's directions, 0 = first layer"),
            .real("retain", Defaults.retained, "share of token pairs, the most different, left unmerged"),
            .real("angle", Defaults.maximumAngle, "pairs whose keys or values are further apart, in degrees, stay unmerged"),
        ],
        ignoresRatio: true,
        factory: .standalone { arguments in
            try MiniCachePress(startLayer: arguments.optionalInteger("start"), interpolation: arguments.float("t"),
                               retained: arguments.real("retain"), maximumAngle: arguments.float("angle"))
        })
}

/// How much output KL each KV head costs at each `StorageOption`: the part of the target allocator's cost model
/// measured once per model (`SensitivityCalibration`), saved in the head profile.
///
/// For every layer, KV head and option, a calibration run stores one head's tokens at that option (all but its
/// sinks and recent tokens when quantizing; the least attended half of them when evicting) and scores a held-out
/// continuation teacher-forced. An evicted token takes its attention away, so eviction's rate is the mean
/// KL(full ‖ changed) per unit of the attention mass the evicted tokens held (`TokenMass`); a quantized token stays
/// and its error reaches the output however little attention it had (a 2-bit key can raise a neglected token's
/// logit), so quantization's rate is per unit of the head's tokens changed (their share). At run time the prompt's
/// own attention mass and token counts weight these rates.
public struct HeadSensitivity: Codable, Sendable, Equatable {
    /// The options measured, by `StorageOption.description` ("8", "4", "3", "2", "evict"); f16 costs nothing.
    public var options: [String]
    /// [layer][kvHead][option]: mean KL per unit of attention mass ("evict") or of token share (bit widths), in
    /// `options` order.
    public var rates: [[[Double]]]
    /// What the rates were measured on (text, split, windows, tokens), for reports.
    public var measuredOn: String
    /// Recent prompt queries whose attention defines a token's mass.
    public var massWindow: Int
    /// Tokens per KIVI key group (and channels per value group) of the quantized options.
    public var group: Int
    /// Measured over predicted mean KL of whole plans on the calibration windows (the heads' costs are not quite
    /// additive); predictions are multiplied by it.
    public var scale: Double

    public init(options: [String], rates: [[[Double]]], measuredOn: String, massWindow: Int, group: Int,
                scale: Double = 1) {
        self.options = options
        self.rates = rates
        self.measuredOn = measuredOn
        self.massWindow = massWindow
        self.group = group
        self.scale = scale
    }

    public var layers: Int { rates.count }
    public var kvHeads: Int { rates.first?.count ?? 0 }

    /// The rate of `option` for one head (0 for f16 and for options not measured: they are never chosen then).
    public func rate(layer: Int, head: Int, option: StorageOption) -> Double? {
        if option == .f16 { return 0 }
        guard let index = options.firstIndex(of: option.description) else { return nil }
        return max(0, rates[layer][head][index])
    }

    /// Refuses rates of the wrong shape or with values that are not finite.
    public func check(layers: Int, kvHeads: Int) throws {
        guard self.layers == layers, self.kvHeads == kvHeads, rates.allSatisfy({ $0.count == kvHeads }),
              rates.allSatisfy({ $0.allSatisfy { $0.count == options.count && $0.allSatisfy(\.isFinite) } }),
              scale.isFinite, scale > 0, massWindow > 0, group >= 8, group % 8 == 0
        else {
            let reason = "the head sensitivities do not fit a model of \(layers) layers × \(kvHeads) KV heads "
                + "(measure them again: tokenpress calibrate --sensitivity)"
            throw PressError.invalidParameter(name: "profile", reason: reason)
        }
    }

    /// The rows of `modelLayers` (a view of some layers).
    func selecting(_ modelLayers: [Int]) -> HeadSensitivity {
        var selected = self
        selected.rates = modelLayers.map { rates[$0] }
        return selected
    }
}

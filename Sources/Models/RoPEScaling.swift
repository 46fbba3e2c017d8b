import GGUF
import Kernels

/// How a file stretches RoPE past its training context, as llama.cpp reads it: a linear factor on every angle
/// (`ROPE.scaling.factor`, types `linear` and `none`) and Llama 3's per-pair frequency factors (the tensor
/// `rope_freqs.weight`, which llama.cpp's converter writes for `rope_scaling: llama3`). YaRN and LongRoPE change
/// the angles and the attention scale in other ways and are refused rather than answered wrongly.
struct RoPEScaling: Equatable {
    /// Multiplies every angle: 1 / the file's scaling factor.
    let frequencyScale: Float
    /// Divides pair i's angle; nil when the file has no `rope_freqs.weight`.
    let frequencyFactors: [Float]?

    static let none = RoPEScaling(frequencyScale: 1, frequencyFactors: nil)

    init(frequencyScale: Float, frequencyFactors: [Float]?) {
        self.frequencyScale = frequencyScale
        self.frequencyFactors = frequencyFactors
    }

    init(file: GGUFFile, architecture arch: String, ropeDimension: Int) throws {
        let factor = try Self.factor(file, architecture: arch)
        let typeKey = GGUFKey.ropeScalingType(arch)
        let type = try file.optionalString(typeKey) ?? "linear"
        guard ["linear", "none"].contains(type) || factor == 1 else {
            let reason = "RoPE scaling '\(PrintableName.of(type))' is not supported (linear and llama3's factors are)"
            throw ModelError.invalidHyperparameter(key: typeKey, reason: reason)
        }
        frequencyScale = 1 / factor
        frequencyFactors = try Self.frequencyFactors(file, ropeDimension: ropeDimension)
    }

    /// The linear factor (1 without one); 0 means none, as in llama.cpp.
    private static func factor(_ file: GGUFFile, architecture arch: String) throws -> Float {
        let key = GGUFKey.ropeScalingFactor(arch)
        guard let factor = try file.optionalFloat(key), factor != 0 else { return 1 }
        guard factor.isFinite, factor > 0, factor < 1_048_576 else {
            throw ModelError.invalidHyperparameter(key: key, reason: "\(factor) is not a positive scaling factor")
        }
        return factor
    }

    /// `rope_freqs.weight`: one positive, finite factor per rotated pair.
    private static func frequencyFactors(_ file: GGUFFile, ropeDimension: Int) throws -> [Float]? {
        let name = GGUFTensorName.ropeFrequencies
        guard file.tensorInfo(name) != nil else { return nil }
        let factors = try WeightLoader(file: file).vector(name, count: ropeDimension / 2)
        guard factors.allSatisfy({ $0.isFinite && $0 > 0 }) else {
            throw ModelError.invalidHyperparameter(key: name, reason: "every RoPE frequency factor must be positive")
        }
        return factors
    }

    /// RoPE over `dimensions` with `base` and `layout`, stretched as the file says.
    func rope(dimensions: Int, base: Float, layout: RoPELayout) -> RoPE {
        RoPE(dimensions: dimensions, base: base, layout: layout, frequencyFactors: frequencyFactors,
             frequencyScale: frequencyScale)
    }
}

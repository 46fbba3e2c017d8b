import Kernels

/// How a mixed-precision tier's tokens are coded when they are quantized (`HeadCache.storeTiers`): `group` tokens
/// per key group and channels per value group, each group's range by `fit`, rows Hadamard-rotated or not. The bit
/// width comes from each tier; every tier of one press codes the same way, so the presses (MiKV, ZipCache, ZipVL,
/// the target allocator) carry one of these instead of each setting apart.
public struct CodeSettings: Sendable, Equatable {
    public let group: Int
    public let fit: RangeFit
    public let rotate: Bool
    /// Keys of a quantized tier at no fewer bits than this (nil: at the tier's width). Keys cost more KL per bit
    /// than values (`KIVISettings.keyBits`), so a tier's keys may be one width up.
    public let keyBits: Int?

    public init(group: Int, fit: RangeFit = .minMax, rotate: Bool = false, keyBits: Int? = nil) {
        self.group = group
        self.fit = fit
        self.rotate = rotate
        self.keyBits = keyBits
    }

    /// Whether a head of `dimension` values can be coded so: whole groups of at least 8 channels, and a power-of-2
    /// dimension when rotated.
    public func check(dimension: Int) throws {
        guard group >= 8, group % 8 == 0, dimension % group == 0 else {
            let reason = "group must be a multiple of 8 dividing the head dimension \(dimension), got \(group)"
            throw KVStorageError.invalid(reason)
        }
        guard !rotate || HadamardRotation.supports(dimension: dimension) else {
            throw KVStorageError.invalid("rotate=1 needs a power-of-2 head dimension, got \(dimension)")
        }
        if let keyBits { try KIVISettings.checkWidth(keyBits, setting: "keybits") }
    }

    /// KIVI's settings for a tier at `bits` bits: no f16 window and no sinks (a tier holds exactly its tokens).
    func kivi(bits: Int) -> KIVISettings {
        KIVISettings(checkedBits: bits, keyBits: max(bits, keyBits ?? bits), group: group, fit: fit, rotate: rotate)
    }
}

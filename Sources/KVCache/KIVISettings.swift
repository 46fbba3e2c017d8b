import Kernels

/// KIVI's storage: keys quantized per channel over groups of `group` tokens, values per token over groups of
/// `group` channels, both asymmetric (f16 scale and zero point per group) at `bits` bits; the most recent
/// `residual` tokens stay f16 and are quantized a whole group at a time as they age out of that window.
///
/// Two additions to the paper, off by default: `sinks` keeps a head's first tokens in f16 for good (attention
/// sinks: their keys are outliers that take most of the attention, so a small error in them moves every weight,
/// and in a per-channel key group they stretch every channel's range), and `fit` chooses each group's range
/// (`RangeFit`: KIVI's min–max, or the range of least squared error). `rotate` stores keys and values
/// Hadamard-rotated (`HadamardRotation`, as llama.cpp rotates its quantized cache): the query is rotated the same
/// way and the weighted sum rotated back, so attention is unchanged but an outlier channel no longer sets its group's
/// range alone. `keyBits` gives keys their own width (KIVI's code has separate key and value bits): keys are the
/// costlier half to quantize, since a key's error moves every attention weight while a value's moves one term.
public struct KIVISettings: Sendable, Equatable, CustomStringConvertible {
    /// Bits per value code, and per key code unless `keyBits` differs.
    public let bits: Int
    public let keyBits: Int
    public let group: Int
    public let residual: Int
    public let sinks: Int
    public let fit: RangeFit
    public let rotate: Bool

    public enum Defaults {
        public static let bits = 4
        public static let group = 32
        public static let residual = 128
        public static let sinks = 0
        public static let fit = RangeFit.minMax
        public static let rotate = false
    }

    /// Checks each setting, naming the one out of range. `keyBits` nil: keys at `bits` too.
    public init(bits: Int = Defaults.bits, keyBits: Int? = nil, group: Int = Defaults.group,
                residual: Int = Defaults.residual, sinks: Int = Defaults.sinks, fit: RangeFit = Defaults.fit,
                rotate: Bool = Defaults.rotate) throws {
        try Self.checkWidth(bits, setting: "bits")
        if let keyBits { try Self.checkWidth(keyBits, setting: "keybits") }
        guard group >= 8, group % 8 == 0, group <= 4096 else {
            throw KVStorageError.invalid("group must be a multiple of 8 from 8 to 4096, got \(group)")
        }
        guard residual >= 0, residual <= 1 << 20 else {
            throw KVStorageError.invalid("residual must be between 0 and 1048576 tokens, got \(residual)")
        }
        guard sinks >= 0, sinks <= 1 << 20 else {
            throw KVStorageError.invalid("sinks must be between 0 and 1048576 tokens, got \(sinks)")
        }
        self.bits = bits
        self.keyBits = keyBits ?? bits
        self.group = group
        self.residual = residual
        self.sinks = sinks
        self.fit = fit
        self.rotate = rotate
    }

    /// Whether `bits` is a width codes are packed at (`PackedCodes.supportedBits`), naming `setting` when not.
    public static func checkWidth(_ bits: Int, setting: String) throws {
        guard PackedCodes.supportedBits.contains(bits) else {
            throw KVStorageError.invalid("\(setting) must be 2, 3, 4 or 8, got \(bits)")
        }
    }

    /// Settings a caller has already checked (a precision press's parsed bits and group): a wrong value here is a
    /// programming error, not bad input.
    init(checkedBits bits: Int, keyBits: Int? = nil, group: Int, fit: RangeFit, rotate: Bool) {
        let widths = PackedCodes.supportedBits
        precondition(widths.contains(bits) && widths.contains(keyBits ?? bits) && group >= 8 && group % 8 == 0,
                     "unchecked KIVI settings")
        self.bits = bits
        self.keyBits = keyBits ?? bits
        self.group = group
        residual = 0
        sinks = 0
        self.fit = fit
        self.rotate = rotate
    }

    /// The press's name with every setting; the additions only when they are not the paper's.
    public var description: String {
        let keyBitsPart = keyBits != bits ? ",keybits=\(keyBits)" : ""
        let sinksPart = sinks != Defaults.sinks ? ",sinks=\(sinks)" : ""
        let fitPart = fit != Defaults.fit ? ",fit=\(fit.rawValue)" : ""
        let rotatePart = rotate != Defaults.rotate ? ",rotate=1" : ""
        return "kivi:bits=\(bits),group=\(group),residual=\(residual)" + keyBitsPart + sinksPart + fitPart + rotatePart
    }

    /// Whether a head of `dimension` values splits into whole value groups (and, rotated, is a power of 2).
    public func check(dimension: Int) throws {
        guard dimension % group == 0 else {
            throw KVStorageError.invalid("kivi group \(group) does not divide the head dimension \(dimension)")
        }
        guard !rotate || HadamardRotation.supports(dimension: dimension) else {
            throw KVStorageError.invalid("kivi rotate=1 needs a power-of-2 head dimension, got \(dimension)")
        }
    }
}


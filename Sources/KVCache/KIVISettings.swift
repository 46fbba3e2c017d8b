import Kernels

/// KIVI's storage: keys quantized per channel over groups of `group` tokens, values per token over groups of
/// `group` channels, both asymmetric (f16 scale and zero point per group) at `bits` bits; the most recent
/// `residual` tokens stay f16 and are quantized a whole group at a time as they age out of that window.
public struct KIVISettings: Sendable, Equatable, CustomStringConvertible {
    public let bits: Int
    public let group: Int
    public let residual: Int

    public enum Defaults {
        public static let bits = 4
        public static let group = 32
        public static let residual = 128
    }

    /// Checks each setting, naming the one out of range.
    public init(bits: Int = Defaults.bits, group: Int = Defaults.group, residual: Int = Defaults.residual) throws {
        guard PackedCodes.supportedBits.contains(bits) else {
            throw KVStorageError.invalid("bits must be 2, 3, 4 or 8, got \(bits)")
        }
        guard group >= 8, group % 8 == 0, group <= 4096 else {
            throw KVStorageError.invalid("group must be a multiple of 8 from 8 to 4096, got \(group)")
        }
        guard residual >= 0, residual <= 1 << 20 else {
            throw KVStorageError.invalid("residual must be between 0 and 1048576 tokens, got \(residual)")
        }
        self.bits = bits
        self.group = group
        self.residual = residual
    }

    /// Settings a caller has already checked (a precision press's parsed bits and group): a wrong value here is a
    /// programming error, not bad input.
    init(checkedBits bits: Int, group: Int) {
        precondition(PackedCodes.supportedBits.contains(bits) && group >= 8 && group % 8 == 0, "unchecked KIVI settings")
        self.bits = bits
        self.group = group
        residual = 0
    }

    public var description: String { "kivi:bits=\(bits),group=\(group),residual=\(residual)" }

    /// Whether a head of `dimension` values splits into whole value groups.
    public func check(dimension: Int) throws {
        guard dimension % group == 0 else {
            throw KVStorageError.invalid("kivi group \(group) does not divide the head dimension \(dimension)")
        }
    }
}


import Foundation

/// The full model's next-token log-probabilities over a text, saved once so any configuration (press, ratio, later
/// cache types) can be compared with them: `tokenpress perplexity --kl-divergence-base FILE` writes it, and with
/// `--kl-divergence` reads it back, as `llama-perplexity` does with its logits file.
///
/// Layout (little-endian): magic `TPKLBASE`, format version (UInt32), vocabulary size, window length, scored tokens
/// per window, window count (UInt32 each), FNV-1a 64 hash of the text's token ids, the full model's mean negative
/// log-likelihood (Float64), then per scored token its target id (UInt32) and the vocabulary's log-probabilities
/// (Float32), and an FNV-1a 64 checksum of everything before it. Float32 keeps KL exact to ~1e-7: smaller codes
/// would blur the KL of near-lossless configurations, which is what the file is for.
public struct KLDivergenceBase: Sendable {
    public static let magic = Array("TPKLBASE".utf8)
    public static let version: UInt32 = 1

    public var vocabulary: Int
    public var window: Int
    public var scoredPerWindow: Int
    public var windows: Int
    public var tokenHash: UInt64
    public var negativeLogLikelihood: Double
    public var targets: [Int]
    /// [scored tokens × vocabulary] log-probabilities.
    public var logProbabilities: [Float]

    public init(vocabulary: Int, window: Int, scoredPerWindow: Int, windows: Int, tokenHash: UInt64,
                negativeLogLikelihood: Double, targets: [Int], logProbabilities: [Float]) {
        self.vocabulary = vocabulary
        self.window = window
        self.scoredPerWindow = scoredPerWindow
        self.windows = windows
        self.tokenHash = tokenHash
        self.negativeLogLikelihood = negativeLogLikelihood
        self.targets = targets
        self.logProbabilities = logProbabilities
    }

    /// Log-probabilities of scored token `index`, in double.
    public func row(_ index: Int) -> [Double] {
        let start = index * vocabulary
        return (start ..< start + vocabulary).map { Double(logProbabilities[$0]) }
    }

    /// FNV-1a 64 over bytes (the token hash and the file checksum).
    public static func fnv1a<S: Sequence>(_ bytes: S, seed: UInt64 = 0xcbf2_9ce4_8422_2325) -> UInt64
        where S.Element == UInt8 {
        var hash = seed
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return hash
    }

    /// The hash of a token sequence, as stored in the file.
    public static func hash(tokens: [Int]) -> UInt64 {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(tokens.count * 4)
        for t in tokens { withUnsafeBytes(of: UInt32(truncatingIfNeeded: t).littleEndian) { bytes += $0 } }
        return fnv1a(bytes)
    }

    public func encoded() -> Data {
        var data = Data(Self.magic)
        func put<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { data.append(contentsOf: $0) } }
        put(Self.version)
        for value in [vocabulary, window, scoredPerWindow, windows] { put(UInt32(value)) }
        put(tokenHash)
        put(negativeLogLikelihood.bitPattern)
        var row = [UInt32](repeating: 0, count: vocabulary)
        for (i, target) in targets.enumerated() {
            put(UInt32(target))
            for j in 0 ..< vocabulary { row[j] = logProbabilities[i * vocabulary + j].bitPattern.littleEndian }
            row.withUnsafeBytes { data.append(contentsOf: $0) }
        }
        put(Self.fnv1a(data))
        return data
    }

    /// Reads a file written by `encoded()`, refusing anything else with a one-line reason.
    public static func read(_ path: String) throws -> KLDivergenceBase {
        func bad(_ reason: String) -> EngineError { .invalidParameter(name: "--kl-divergence-base", reason: "\(path) \(reason)") }
        guard let data = FileManager.default.contents(atPath: path) else { throw bad("cannot be read") }
        let bytes = data  // read in place: a base is 4 bytes × vocabulary per scored token, often hundreds of MB
        let headerSize = magic.count + 4 * 5 + 8 + 8
        guard bytes.count >= headerSize + 8, Array(bytes[0 ..< magic.count]) == magic else {
            throw bad("is not a KL-divergence base file of tokenpress perplexity")
        }
        var offset = magic.count
        func integer<T: FixedWidthInteger>(_: T.Type) -> T {
            var value: T = 0
            for k in 0 ..< MemoryLayout<T>.size { value |= T(bytes[offset + k]) << (8 * k) }
            offset += MemoryLayout<T>.size
            return value
        }
        var storedChecksum: UInt64 = 0
        for (k, byte) in bytes[(bytes.count - 8)...].enumerated() { storedChecksum |= UInt64(byte) << (8 * k) }
        guard fnv1a(bytes[0 ..< bytes.count - 8]) == storedChecksum else {
            throw bad("is truncated or corrupt (checksum mismatch)")
        }
        let version = integer(UInt32.self)
        guard version == Self.version else { throw bad("has format version \(version); this tokenpress reads \(Self.version)") }
        let vocabulary = Int(integer(UInt32.self)), window = Int(integer(UInt32.self))
        let scored = Int(integer(UInt32.self)), windows = Int(integer(UInt32.self))
        let tokenHash = integer(UInt64.self)
        let nll = Double(bitPattern: integer(UInt64.self))
        let count = scored * windows
        guard vocabulary > 0, bytes.count == headerSize + count * (4 + 4 * vocabulary) + 8 else {
            throw bad("has a size that does not match its header")
        }
        var targets: [Int] = []
        var values = [Float](repeating: 0, count: count * vocabulary)
        data.withUnsafeBytes { raw in
            for i in 0 ..< count {
                targets.append(Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self))))
                offset += 4
                for j in 0 ..< vocabulary {
                    let bits = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 4 * j, as: UInt32.self))
                    values[i * vocabulary + j] = Float(bitPattern: bits)
                }
                offset += 4 * vocabulary
            }
        }
        return KLDivergenceBase(vocabulary: vocabulary, window: window, scoredPerWindow: scored, windows: windows,
                                tokenHash: tokenHash, negativeLogLikelihood: nll, targets: targets, logProbabilities: values)
    }
}

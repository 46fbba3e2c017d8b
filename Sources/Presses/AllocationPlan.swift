import Foundation

/// What the target allocator decided, per KV head: how many tokens at each storage option, the bytes and the
/// predicted KL; `--explain` prints it per layer, `eval --plots` draws it as a layer × head heatmap, and reports put
/// the prediction beside the measured KL.
public struct AllocationPlan: Sendable, Equatable {
    public struct Head: Sendable, Equatable {
        public var layer: Int
        public var head: Int
        /// Tokens at each option of the plan's ladder (f16, 8, 4, 3, 2 bits, evicted).
        public var counts: [Int]
        /// Bytes the head's segments take (an upper bound; the cache's `byteCount` is what is reported).
        public var bytes: Int
        public var predictedKL: Double
        /// What the head's tokens took at f16 before the plan (rows only).
        public var denseBytes: Int

        /// Tokens the head keeps, at any precision.
        public var kept: Int { counts.dropLast().reduce(0, +) }

        /// Mean bits per stored element of the kept tokens (16 for f16).
        public func meanBits(ladder: [StorageOption]) -> Double {
            let elements = kept
            guard elements > 0 else { return 0 }
            let bits = zip(counts, ladder).reduce(0) { $0 + $1.0 * $1.1.bits }
            return Double(bits) / Double(elements)
        }
    }

    public var target: CompressionTarget
    public var denseBytes: Int
    /// The cache's bytes before the plan.
    public var startBytes: Int
    /// Bytes kept free for generated tokens.
    public var reserveBytes: Int
    public var ladder: [StorageOption]
    public var heads: [Head] = []
    /// Upper bound on the cache's bytes after the plan.
    public var estimatedBytes = 0
    /// Predicted mean KL(full ‖ compressed) over the next tokens (after the calibration's scale).
    public var predictedKL = 0.0
    /// What the cache held after the plan was applied (`byteCount`).
    public var measuredBytes: Int?
    /// Said when the target asks for nothing (larger than the cache).
    public var note: String?
    /// Milliseconds the allocation took (masses, plan and storage), for reports.
    public var milliseconds = 0.0

    init(target: CompressionTarget, denseBytes: Int, startBytes: Int, reserveBytes: Int, ladder: [StorageOption]) {
        self.target = target
        self.denseBytes = denseBytes
        self.startBytes = startBytes
        self.reserveBytes = reserveBytes
        self.ladder = ladder
    }

    mutating func finish(heads input: [TargetAllocator.HeadInput], counts: [[Int]]?, bytes: [Int]?, predicted: [Double],
                         estimatedBytes: Int, scale: Double) {
        heads = input.indices.map { i in
            var c = [Int](repeating: 0, count: ladder.count)
            c[0] = input[i].mass.count
            return Head(layer: input[i].layer, head: input[i].head, counts: counts?[i] ?? c, bytes: bytes?[i] ?? 0,
                        predictedKL: predicted.isEmpty ? 0 : predicted[i],
                        denseBytes: input[i].mass.count * 4 * input[i].headDimension)
        }
        self.estimatedBytes = estimatedBytes
        predictedKL = predicted.reduce(0, +)
    }

    /// Whether the plan changed anything.
    public var compresses: Bool { note == nil }

    /// One line: target, bytes against the dense cache, predicted KL.
    public var summary: String {
        if let note { return note }
        let held = measuredBytes ?? estimatedBytes
        let share = denseBytes > 0 ? 100 * Double(held) / Double(denseBytes) : 0
        let kl = String(format: "%.4f", predictedKL)
        var line = "target \(target): \(CompressionTarget.format(bytes: held)) (\(String(format: "%.1f", share))% of "
            + "the dense f16 \(CompressionTarget.format(bytes: denseBytes))), predicted mean KL \(kl)"
        if reserveBytes > 0 { line += ", \(CompressionTarget.format(bytes: reserveBytes)) kept for generated tokens" }
        return line + String(format: "; planned and stored in %.0f ms", milliseconds)
    }

    /// [layer][kvHead]: the bytes each head keeps as a share of its dense f16 bytes (for heatmaps).
    public var headShares: [[Double]] {
        let layers = Array(Set(heads.map(\.layer))).sorted()
        return layers.map { layer in
            heads.filter { $0.layer == layer }.sorted { $0.head < $1.head }.map { head in
                head.denseBytes > 0 ? Double(head.bytes) / Double(head.denseBytes) : 0
            }
        }
    }

    /// The plan per layer: tokens at each option (summed over heads), kept share, mean bits, bytes, predicted KL.
    public var table: String {
        let names = ladder.map { $0 == .evicted ? "evicted" : ($0 == .f16 ? "f16" : "\($0.bits)-bit") }
        var lines = ["| layer | tokens | " + names.joined(separator: " | ") + " | mean bits | bytes | predicted KL |",
                     "| ---: | ---: | " + names.map { _ in "---:" }.joined(separator: " | ") + " | ---: | ---: | ---: |"]
        let layers = Array(Set(heads.map(\.layer))).sorted()
        for layer in layers {
            let rows = heads.filter { $0.layer == layer }
            let counts = ladder.indices.map { o in rows.reduce(0) { $0 + $1.counts[o] } }
            let merged = Head(layer: layer, head: -1, counts: counts, bytes: rows.reduce(0) { $0 + $1.bytes },
                              predictedKL: rows.reduce(0) { $0 + $1.predictedKL }, denseBytes: 0)
            let cells = counts.map(String.init).joined(separator: " | ")
            let bits = String(format: "%.2f", merged.meanBits(ladder: ladder))
            let kl = String(format: "%.5f", merged.predictedKL)
            lines.append("| \(layer) | \(counts.reduce(0, +)) | \(cells) | \(bits) | \(merged.bytes) | \(kl) |")
        }
        return lines.joined(separator: "\n")
    }
}

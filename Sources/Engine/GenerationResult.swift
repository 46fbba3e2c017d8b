import KVCache

/// Why generation ended.
public enum StopReason: String, Sendable, Codable {
    case endOfGeneration = "eog"
    case maxTokens = "length"
    case stopString = "stop"
    case contextFull = "context"
    /// The caller's `until` condition held (e.g. an evaluation answer already holds everything it can be scored for).
    case condition = "condition"
}

/// Timings of one generation: prefill (the prompt, batched) and decode (one token at a time).
public struct GenerationStatistics: Sendable, Codable {
    public var promptTokens = 0
    public var prefillSeconds = 0.0
    public var generatedTokens = 0
    public var decodeSeconds = 0.0
    /// Exact cache bytes once the prompt is in (after any press), and what a dense f16 cache would take.
    public var cacheBytesAfterPrompt = 0
    public var denseCacheBytesAfterPrompt = 0
    /// Of the dense bytes, what sliding-window layers released (Gemma 3's local layers): saved by the model's own
    /// attention pattern, not by a press.
    public var windowSavedBytesAfterPrompt = 0
    /// What the press freed once the prompt was in: the cache's bytes before it ran less its bytes after.
    public var pressSavedBytesAfterPrompt = 0
    /// The largest exact cache size seen after the prompt (bounded when a decoding press is used).
    public var peakCacheBytes = 0
    /// Bits per key or value element the cache spends once the prompt is in (codes, scales, positions: all of it).
    public var bitsPerElementAfterPrompt = 0.0
    /// Exact bytes of each layer once the prompt is in (heads and layers may hold different budgets and bits).
    public var layerBytesAfterPrompt: [Int] = []
    /// Times the cache's tokens were moved back to positions within the cache so generation could pass the context length.
    public var positionReindexings = 0

    public init() {}

    public var prefillTokensPerSecond: Double { prefillSeconds > 0 ? Double(promptTokens) / prefillSeconds : 0 }
    public var decodeTokensPerSecond: Double { decodeSeconds > 0 ? Double(generatedTokens) / decodeSeconds : 0 }

    public var summary: String {
        let p = String(format: "%.1f", prefillTokensPerSecond), d = String(format: "%.1f", decodeTokensPerSecond)
        return "prompt: \(promptTokens) tokens, \(p) tokens/s | generated: \(generatedTokens) tokens, \(d) tokens/s | " + cacheSummary
    }

    /// Each layer's bytes after the prompt, in KiB, on one line ("layer KiB: 0: 12.3, 1: 11.9, …").
    public var layerSummary: String {
        let cells = layerBytesAfterPrompt.enumerated().map { layer, bytes in
            String(format: "%d: %.1f", layer, Double(bytes) / 1024)
        }
        return "layer KiB: " + cells.joined(separator: ", ")
    }

    /// Cache bytes after the prompt against a dense f16 cache, and the peak.
    public var cacheSummary: String {
        let kib = { (bytes: Int) in String(format: "%.1f KiB", Double(bytes) / 1024) }
        let bits = String(format: "%.2f", bitsPerElementAfterPrompt)
        var window = windowSavedBytesAfterPrompt > 0 ? "; sliding windows saved \(kib(windowSavedBytesAfterPrompt))" : ""
        if pressSavedBytesAfterPrompt != 0 { window += "; press saved \(kib(pressSavedBytesAfterPrompt))" }
        return "cache after prompt: \(kib(cacheBytesAfterPrompt)) (dense f16: \(kib(denseCacheBytesAfterPrompt))\(window); "
            + "\(bits) bits per element), peak: \(kib(peakCacheBytes))"
            + (positionReindexings > 0 ? ", positions re-indexed \(positionReindexings)×" : "")
    }
}

extension GenerationStatistics {
    /// Records the cache once the prompt is in and any press has run.
    /// - Parameters:
    ///   - unpressedBytes: the cache's bytes before the press ran.
    ///   - peakBytes: the largest size seen while the prompt was read.
    public mutating func recordPrompt(cache: KVCache, unpressedBytes: Int, peakBytes: Int) {
        pressSavedBytesAfterPrompt = unpressedBytes - cache.byteCount
        cacheBytesAfterPrompt = cache.byteCount
        denseCacheBytesAfterPrompt = cache.denseF16ByteCount(tokens: cache.nextPosition)
        windowSavedBytesAfterPrompt = cache.windowSavedBytes
        peakCacheBytes = peakBytes
        bitsPerElementAfterPrompt = cache.bitsPerElement
        layerBytesAfterPrompt = cache.layers.map(\.byteCount)
    }
}

public struct GenerationResult: Sendable {
    public var tokens: [Int] = []
    public var text = ""
    public var stopReason = StopReason.maxTokens
    public var statistics = GenerationStatistics()
}

import Foundation

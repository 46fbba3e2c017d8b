import Foundation
import KVCache
import Models

/// Perplexity of a token sequence: split into windows of `context` tokens, each scored from a fresh cache;
/// every token after the first of a window is predicted from the ones before it.
public struct PerplexityResult: Sendable, Codable {
    public var tokens: Int          // tokens scored
    public var windows: Int
    public var context: Int
    public var negativeLogLikelihood: Double  // mean, nats
    public var ppl: Double { exp(negativeLogLikelihood) }
}

public struct PerplexityEvaluator {
    public let engine: InferenceEngine

    public init(engine: InferenceEngine) { self.engine = engine }

    /// - Parameters:
    ///   - progress: called with (windows done, windows total).
    public func evaluate(tokens: [Int], context: Int, progress: (Int, Int) -> Void = { _, _ in }) throws -> PerplexityResult {
        guard context >= 2 else { throw EngineError.invalidParameter(name: "--ctx", reason: "\(context) must be at least 2") }
        guard context <= engine.contextLength else {
            throw EngineError.invalidParameter(name: "--ctx", reason: "\(context) exceeds the model's context of \(engine.contextLength)")
        }
        guard tokens.count >= 2 else { throw EngineError.textTooShort(tokens: tokens.count, needed: 2) }
        let vocabulary = engine.model.configuration.vocabularySize
        let windows = stride(from: 0, to: tokens.count, by: context).map { Array(tokens[$0 ..< min($0 + context, tokens.count)]) }
            .filter { $0.count >= 2 }
        var total = 0.0, count = 0
        for (w, window) in windows.enumerated() {
            progress(w, windows.count)
            let cache = engine.makeCache()
            var start = 0
            while start < window.count - 1 {
                let end = min(start + engine.batchSize, window.count)
                let logits = try engine.model.forward(tokens: Array(window[start ..< end]), cache: cache, logits: .allTokens)
                for i in start ..< end where i + 1 < window.count {
                    total += Self.negativeLogProbability(logits, row: i - start, vocabulary: vocabulary, target: window[i + 1])
                    count += 1
                }
                start = end
            }
        }
        progress(windows.count, windows.count)
        return PerplexityResult(tokens: count, windows: windows.count, context: context, negativeLogLikelihood: total / Double(count))
    }

    /// −log softmax(logits[row])[target], in double.
    static func negativeLogProbability(_ logits: [Float], row: Int, vocabulary: Int, target: Int) -> Double {
        let base = row * vocabulary
        var maximum = -Float.infinity
        for j in 0 ..< vocabulary { maximum = max(maximum, logits[base + j]) }
        var sum = 0.0
        for j in 0 ..< vocabulary { sum += exp(Double(logits[base + j] - maximum)) }
        return log(sum) - Double(logits[base + target] - maximum)
    }
}

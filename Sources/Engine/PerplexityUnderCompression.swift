import Foundation
import KVCache
import Presses

/// Perplexity and KL divergence of a configuration against the full model, as `llama-perplexity` measures them:
/// the text is cut into windows of `context` tokens; each window's first half is prefilled and compressed (by
/// `press`, if any), then its second half is scored teacher-forced: token `first` only feeds in, tokens after it
/// are predicted from the compressed cache.
public struct PerplexityUnderCompression: Sendable {
    public var tokens: Int
    public var windows: Int
    public var context: Int
    /// Mean negative log-likelihood of the scored tokens, nats.
    public var negativeLogLikelihood: Double
    public var ppl: Double { exp(negativeLogLikelihood) }
    /// Against the base file, when one was given to compare with.
    public var divergence: DivergenceStatistics?
    /// KL of every scored token, in order (for intervals), when compared with a base.
    public var tokenKL: [Double] = []
    public var basePPL: Double?
    /// Cache bytes after compressing the last window's first half, and a dense f16 cache of the same tokens.
    public var cacheBytes: Int
    public var denseBytes: Int
}

extension PerplexityEvaluator {
    /// Scores `tokens` under `press`; compares with `base` when given, and returns what a base file would hold.
    /// - Parameters:
    ///   - base: the full model's log-probabilities for the same tokens and windows (`KLDivergenceBase`).
    ///   - keepLogProbabilities: fill the returned base with every scored row (to save it; costs 4 bytes × vocabulary
    ///     per scored token).
    ///   - progress: called with (windows done, windows total).
    public func evaluate(tokens: [Int], context: Int, press: (any KVPress)?, base: KLDivergenceBase?,
                         keepLogProbabilities: Bool = false, progress: (Int, Int) -> Void = { _, _ in })
        throws -> (result: PerplexityUnderCompression, base: KLDivergenceBase) {
        guard context >= 4 else { throw EngineError.invalidParameter(name: "--ctx", reason: "\(context) must be at least 4") }
        guard context <= engine.contextLength else {
            throw EngineError.invalidParameter(name: "--ctx", reason: "\(context) exceeds the model's context of \(engine.contextLength)")
        }
        let windows = tokens.count / context
        guard windows >= 1 else { throw EngineError.textTooShort(tokens: tokens.count, needed: context) }
        let vocabulary = engine.model.configuration.vocabularySize
        let first = context / 2, scoredPerWindow = context - first - 1
        let used = Array(tokens[0 ..< windows * context])
        if let base { try check(base, tokens: used, context: context, windows: windows, scoredPerWindow: scoredPerWindow) }
        var record = KLDivergenceBase(vocabulary: vocabulary, window: context, scoredPerWindow: scoredPerWindow, windows: windows,
                                      tokenHash: KLDivergenceBase.hash(tokens: used), negativeLogLikelihood: 0, targets: [],
                                      logProbabilities: [])
        var divergences: [TokenDivergence] = []
        var total = 0.0, scored = 0, bytes = 0, dense = 0
        for w in 0 ..< windows {
            progress(w, windows)
            let window = Array(used[w * context ..< (w + 1) * context])
            let cache = engine.makeCache()
            var peak = 0
            _ = try engine.prefill(Array(window[0 ..< first]), cache: cache, press: press, peakBytes: &peak)
            try press?.compress(cache)
            cache.statistics = nil
            bytes = cache.byteCount
            dense = cache.denseF16ByteCount(tokens: first)
            var start = first
            while start < context - 1 {
                let end = min(start + engine.batchSize, context - 1)
                let logits = try engine.model.forward(tokens: Array(window[start ..< end]), cache: cache, logits: .allTokens)
                for i in start ..< end {
                    let target = window[i + 1]
                    let row = LogProbabilities.row(logits, row: i - start, vocabulary: vocabulary)
                    total -= row[target]
                    if let base {
                        // Both sides at the file's float precision, so the full cache against its own base is exactly 0.
                        let tested = row.map { Double(Float($0)) }
                        divergences.append(TokenDivergence(reference: base.row(scored), tested: tested, target: target))
                    }
                    record.targets.append(target)
                    if keepLogProbabilities { record.logProbabilities += row.map { Float($0) } }
                    scored += 1
                }
                start = end
            }
        }
        progress(windows, windows)
        record.negativeLogLikelihood = total / Double(scored)
        let result = PerplexityUnderCompression(tokens: scored, windows: windows, context: context,
                                                negativeLogLikelihood: total / Double(scored),
                                                divergence: base == nil ? nil : DivergenceStatistics(divergences),
                                                basePPL: base.map { exp($0.negativeLogLikelihood) }, cacheBytes: bytes, denseBytes: dense)
        var measured = result
        measured.tokenKL = divergences.map(\.kl)
        return (measured, record)
    }

    /// A base file must describe the same text, windows and vocabulary.
    func check(_ base: KLDivergenceBase, tokens: [Int], context: Int, windows: Int, scoredPerWindow: Int) throws {
        func mismatch(_ what: String) -> EngineError {
            .invalidParameter(name: "--kl-divergence-base", reason: "the file was made with \(what); rerun it without --kl-divergence")
        }
        let vocabulary = engine.model.configuration.vocabularySize
        guard base.vocabulary == vocabulary else { throw mismatch("a vocabulary of \(base.vocabulary) tokens, not \(vocabulary)") }
        guard base.window == context else { throw mismatch("--ctx \(base.window), not \(context)") }
        guard base.windows == windows, base.scoredPerWindow == scoredPerWindow else {
            throw mismatch("\(base.windows) windows, not \(windows) (another --max-tokens or text)")
        }
        guard base.tokenHash == KLDivergenceBase.hash(tokens: tokens) else { throw mismatch("another text or tokenizer") }
    }
}

import Foundation
import KVCache
import Presses

/// Measures a model's `HeadSensitivity`, the per-head rates of the target allocator's cost model: on windows of a
/// held-out text, one KV head at a time has its tokens stored at each `StorageOption` (quantized: every token but
/// its floors; evicted: the least attended half of them), a continuation is scored teacher-forced, and the mean
/// KL(full ‖ changed) divided by the attention mass the evicted tokens held, or by the share of the head's tokens
/// quantized, is that head's rate for the option.
/// Then whole plans at 12.5%, 25% and 50% of the f16 cache are measured on the same windows, and the ratio of
/// measured to predicted KL (geometric mean) becomes the rates' `scale`.
public struct SensitivityCalibration {
    public let engine: InferenceEngine
    public var promptTokens = 1024
    public var continuationTokens = 128
    public var windows = 2
    public var massWindow = TargetPress.Defaults.massWindow
    public var allocator = TargetAllocator()
    /// The options measured (f16 costs nothing).
    public var options: [StorageOption] = [.bits(8), .bits(4), .bits(3), .bits(2), .evicted]
    /// Shares of the dense cache whose whole plans set `scale`.
    public var scaleShares = [0.125, 0.25, 0.5]

    public init(engine: InferenceEngine) { self.engine = engine }

    /// Rates measured on `text` (described in the result by `describing`); `progress` gets (done, total) trials.
    public func run(text: String, describing: String, progress: (Int, Int) -> Void = { _, _ in }) throws -> HeadSensitivity {
        let prompt = min(promptTokens, engine.contextLength - continuationTokens - 1)
        guard prompt > allocator.sinks + allocator.recent + massWindow, continuationTokens >= 2 else {
            throw EngineError.invalidParameter(name: "calibration", reason: "the model's context is too short")
        }
        var allocator = self.allocator
        allocator.group = TargetAllocator.group(forHeadDimension: engine.model.makeCache().headDimension)
        guard engine.model.makeCache().headDimension % 8 == 0 else {
            throw EngineError.invalidParameter(name: "calibration", reason: "the model's head dimension is not a multiple of 8")
        }
        let tokens = engine.tokenizer.encode(text)
        let span = prompt + continuationTokens
        let count = min(windows, tokens.count / span)
        guard count >= 1 else { throw EngineError.textTooShort(tokens: tokens.count, needed: span) }
        let c = engine.model.configuration
        let trials = c.layerCount * c.kvHeadCount * options.count + scaleShares.count
        var kl = Array(repeating: Array(repeating: Array(repeating: 0.0, count: options.count), count: c.kvHeadCount),
                       count: c.layerCount)
        var mass = kl
        var windowsRead: [(cache: KVCache, masses: [[[Double]]], continuation: [Int], reference: [[Double]])] = []
        for w in 0 ..< count {
            let window = Array(tokens[w * span ..< (w + 1) * span])
            let read = try prefill(Array(window[0 ..< prompt]), continuation: Array(window[prompt...]))
            windowsRead.append(read)
            for l in 0 ..< c.layerCount {
                for h in 0 ..< c.kvHeadCount {
                    for (o, option) in options.enumerated() {
                        progress(w * trials + (l * c.kvHeadCount + h) * options.count + o, count * trials)
                        let trial = read.cache.copy()
                        let masses = read.masses[l][h]
                        let changed = change(trial, layer: l, head: h, option: option, masses: masses,
                                             allocator: allocator)
                        let weight = option == .evicted
                            ? changed.reduce(0) { $0 + masses[$1] }
                            : Double(changed.count) / Double(masses.count)
                        kl[l][h][o] += try meanKL(trial, continuation: read.continuation, reference: read.reference)
                        mass[l][h][o] += weight
                    }
                }
            }
        }
        let rates = kl.indices.map { l in
            kl[l].indices.map { h in kl[l][h].indices.map { o in kl[l][h][o] / max(mass[l][h][o], 1e-9) } }
        }
        let text = "\(describing): \(count) windows of \(prompt) prompt + \(continuationTokens) scored tokens"
        var sensitivity = HeadSensitivity(options: options.map(\.description), rates: rates, measuredOn: text,
                                          massWindow: massWindow, group: allocator.group)
        var logRatios: [Double] = []
        for (s, share) in scaleShares.enumerated() {
            for read in windowsRead {
                progress(count * trials - scaleShares.count + s, count * trials)
                let trial = read.cache.copy()
                trial.statistics = read.cache.statistics?.copy()
                let press = try TargetPress(target: .share(share), sensitivity: sensitivity, allocator: allocator)
                // A share below what the floors take on these windows (short prompts) says nothing: skipped.
                guard (try? press.compress(trial)) != nil else { continue }
                trial.statistics = nil
                let measured = try meanKL(trial, continuation: read.continuation, reference: read.reference)
                if let predicted = press.plans.last?.predictedKL, predicted > 0, measured > 0 {
                    logRatios.append(log(measured / predicted))
                }
            }
        }
        if !logRatios.isEmpty { sensitivity.scale = exp(logRatios.reduce(0, +) / Double(logRatios.count)) }
        progress(count * trials, count * trials)
        return sensitivity
    }

    /// The prompt's cache (with its statistics), every head's masses, and the full cache's log-probabilities of the
    /// continuation.
    func prefill(_ prompt: [Int], continuation: [Int])
        throws -> (cache: KVCache, masses: [[[Double]]], continuation: [Int], reference: [[Double]]) {
        let cache = engine.makeCache()
        cache.statistics = AttentionStatistics(needs: TokenMass.needs(window: massWindow), layers: cache.layers.count,
                                               kvHeads: cache.kvHeads)
        _ = try engine.prefill(prompt, cache: cache)
        let masses = try TokenMass.perHead(cache, window: massWindow)
        let full = cache.copy()
        let reference = try logProbabilities(full, continuation: continuation)
        return (cache, masses, continuation, reference)
    }

    /// Stores one head's tokens at `option` in `cache` (statistics dropped); returns the indices of those changed.
    func change(_ cache: KVCache, layer: Int, head: Int, option: StorageOption, masses: [Double],
                allocator: TargetAllocator) -> [Int] {
        cache.statistics = nil
        let held = cache.layers[layer].heads[head]
        let positions = Array(held.positions)
        let byPosition = positions.indices.sorted { (positions[$0], $0) < (positions[$1], $1) }
        let floor = Set(byPosition.prefix(allocator.sinks) + byPosition.suffix(allocator.recent))
        var candidates = masses.indices.filter { !floor.contains($0) }
        if option == .evicted {
            candidates = Array(candidates.sorted { (masses[$0], $0) < (masses[$1], $1) }.prefix(candidates.count / 2))
        }
        let changed = Set(candidates)
        let kept = masses.indices.filter { !changed.contains($0) }
        var tiers: [(precision: TokenPrecision, indices: [Int])] = [(.f16, kept)]
        if let precision = option.precision { tiers.append((precision, candidates)) }
        cache.storeTiers(layer: layer, head: head, tiers, group: allocator.group)
        return candidates
    }

    /// Mean KL(reference ‖ cache's prediction) over the continuation, read teacher-forced into `cache`.
    func meanKL(_ cache: KVCache, continuation: [Int], reference: [[Double]]) throws -> Double {
        let rows = try logProbabilities(cache, continuation: continuation)
        return zip(reference, rows).reduce(0) { $0 + LogProbabilities.divergence($1.0, $1.1) } / Double(rows.count)
    }

    /// Log-probabilities of the tokens after each continuation token but the last.
    func logProbabilities(_ cache: KVCache, continuation: [Int]) throws -> [[Double]] {
        let vocabulary = engine.model.configuration.vocabularySize
        var rows: [[Double]] = []
        var start = 0
        let end = continuation.count - 1
        while start < end {
            let stop = min(start + engine.batchSize, end)
            let logits = try engine.model.forward(tokens: Array(continuation[start ..< stop]), cache: cache, logits: .allTokens)
            for r in 0 ..< stop - start { rows.append(LogProbabilities.row(logits, row: r, vocabulary: vocabulary)) }
            start = stop
        }
        return rows
    }
}

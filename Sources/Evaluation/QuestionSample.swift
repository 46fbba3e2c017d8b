import Engine
import Foundation
import Sampling

/// One question about a long context, answered by greedy generation after an answer prefix (as RULER does, so
/// a small model answers instead of restating the question), and scored by the share of expected strings the
/// answer contains (case-insensitive).
public struct QuestionSample: Sendable {
    public var task: EvaluationPlan.Task
    public var prompt: QuestionPrompt
    public var answerPrefix: String
    public var expected: [String]
    /// Where the information asked for sits in the context (0 start … 1 end).
    public var depth: Double
    /// Tokens an answer may take.
    public var answerTokens: Int
    /// Which sample of a RULER task this is (nil for the home-made tasks).
    public var sample: Int? = nil
    /// RULER's `string_match_part` (QA: any expected string found scores 1) instead of `string_match_all`.
    public var matchAny = false

    /// RULER's scoring: the share of expected strings the answer contains, case-insensitive
    /// (`string_match_all`), or 1 when it contains any of them (`string_match_part`).
    public func score(_ answer: String) -> Double {
        guard !expected.isEmpty else { return 0 }
        let lowered = answer.lowercased()
        let found = expected.filter { lowered.contains($0.lowercased()) }.count
        if matchAny { return found > 0 ? 1 : 0 }
        return Double(found) / Double(expected.count)
    }
}

/// Builds a context of about `tokens` tokens: a stretch of filler text with `inserts` placed at their depths
/// (each at the first sentence end after it), followed by the question.
public struct HaystackBuilder {
    public let engine: InferenceEngine
    public let filler: [Int]
    public let render: (String) throws -> String

    public init(engine: InferenceEngine, filler: [Int], render: @escaping (String) throws -> String) {
        self.engine = engine
        self.filler = filler
        self.render = render
    }

    func prompt(tokens: Int, inserts: [(text: String, depth: Double)], question: String, answerPrefix: String,
                generator: inout SeededGenerator) throws -> QuestionPrompt {
        let facts = inserts.map(\.text).joined(separator: " ")
        let overhead = engine.tokenizer.encode(try render(facts + "\n\nQuestion: " + question + "\nAnswer:")
                                               + answerPrefix).count
        let length = tokens - overhead
        guard length > 0 else {
            let reason = "\(tokens) tokens leave no room for filler around the inserted facts and the question (\(overhead) tokens)"
            throw EngineError.invalidParameter(name: "context", reason: reason)
        }
        guard filler.count > length else { throw EngineError.textTooShort(tokens: filler.count, needed: length + 1) }
        let start = Int(generator.next() % UInt64(filler.count - length))
        let characters = Array(engine.tokenizer.decode(Array(filler[start ..< start + length])))
        let cuts = inserts.map { insert -> Int in
            var cut = Int(Double(characters.count) * insert.depth)
            if cut > 0 && cut < characters.count {
                while cut < characters.count && !(characters[cut - 1] == "." && characters[cut] == " ") { cut += 1 }
            }
            return cut
        }
        var context = "", previous = 0
        for i in cuts.indices.sorted(by: { cuts[$0] != cuts[$1] ? cuts[$0] < cuts[$1] : $0 < $1 }) {
            context += String(characters[previous ..< cuts[i]]) + " " + inserts[i].text + " "
            previous = cuts[i]
        }
        context += String(characters[previous...])
        return try QuestionPrompt(context: context.trimmingCharacters(in: .whitespacesAndNewlines), question: question, render: render)
    }
}

/// The question tasks: needle in a haystack and RULER-style synthetic tasks, generated and seeded.
public enum QuestionTasks {
    /// Nouns for keys and word lists (RULER draws from a word list too).
    static let words = """
        apple river candle forest window garden hammer silver mountain pencil rabbit ocean violin lantern meadow \
        button castle feather harbor jacket kettle ladder marble needle orchard pepper quilt saddle thunder tunnel \
        velvet wagon anchor basket cabin desert engine falcon glacier helmet island jungle kitten lemon magnet \
        napkin oyster parrot rocket shadow tiger umbrella valley walnut yogurt zebra bridge copper dragon eagle \
        fountain guitar honey iron jewel koala lizard mirror nickel onion pillow quartz ribbon spider tomato \
        unicorn vessel whistle blanket camera dolphin emerald fabric galaxy hazel igloo jigsaw kayak lobster \
        mango nectar orbit pebble raven salmon tulip vapor willow badger cactus daisy ember ferry goblet
        """.split(separator: " ").map(String.init)

    public static func sample(_ task: EvaluationPlan.Task, builder: HaystackBuilder, tokens: Int, depth: Double,
                              seed: UInt64) throws -> QuestionSample {
        var g = SeededGenerator(seed: seed)
        func number(_ digits: Int) -> String {
            let low = Int(pow(10, Double(digits - 1)))
            return String(low + Int(g.next() % UInt64(9 * low)))
        }
        func pick(_ count: Int, from pool: [String]) -> [String] {
            var pool = pool, out: [String] = []
            for _ in 0 ..< min(count, pool.count) { out.append(pool.remove(at: Int(g.next() % UInt64(pool.count)))) }
            return out
        }
        func randomDepth() -> Double { Double(g.next() % 1001) / 1000 }
        switch task {
        case .needle:
            let value = number(7)
            let question = "What is the special magic number mentioned in the text? Answer with the number only."
            let prefix = "The special magic number is"
            let prompt = try builder.prompt(tokens: tokens, inserts: [("The special magic number is \(value).", depth)], question: question,
                                            answerPrefix: prefix, generator: &g)
            return QuestionSample(task: task, prompt: prompt, answerPrefix: prefix, expected: [value], depth: depth, answerTokens: 12)
        case .multikey:
            let keys = pick(4, from: words), values = keys.map { _ in number(7) }
            let inserts = keys.indices.map { i in
                ("One of the special magic numbers for \(keys[i]) is: \(values[i]).", i == 0 ? depth : randomDepth())
            }
            let question = "What is the special magic number for \(keys[0]) mentioned in the provided text?"
            let prefix = "The special magic number for \(keys[0]) mentioned in the provided text is"
            let prompt = try builder.prompt(tokens: tokens, inserts: inserts, question: question, answerPrefix: prefix, generator: &g)
            return QuestionSample(task: task, prompt: prompt, answerPrefix: prefix, expected: [values[0]], depth: depth, answerTokens: 12)
        case .multivalue:
            let key = pick(1, from: words)[0], values = (0 ..< 4).map { _ in number(7) }
            let inserts = values.indices.map { i in
                ("One of the special magic numbers for \(key) is: \(values[i]).", i == 0 ? depth : randomDepth())
            }
            let question = "What are all the special magic numbers for \(key) mentioned in the provided text?"
            let prefix = "The special magic numbers for \(key) mentioned in the provided text are"
            let prompt = try builder.prompt(tokens: tokens, inserts: inserts, question: question, answerPrefix: prefix, generator: &g)
            return QuestionSample(task: task, prompt: prompt, answerPrefix: prefix, expected: values, depth: depth, answerTokens: 48)
        case .variables:
            let value = number(5)
            let names = (0 ..< 4).map { _ in String((0 ..< 5).map { _ in Character(Unicode.Scalar(UInt8(65 + g.next() % 26))) }) }
            let inserts = names.indices.map { i -> (String, Double) in
                let text = i == 0 ? "VAR \(names[0]) = \(value)." : "VAR \(names[i]) = VAR \(names[i - 1])."
                return (text, depth * Double(i + 1) / Double(names.count))
            }
            let question = "Find all variables that are assigned the value \(value) in the text above."
            let prefix = "According to the chain of variable assignments in the text above, \(names.count) variables are "
                + "assigned the value \(value); they are:"
            let prompt = try builder.prompt(tokens: tokens, inserts: inserts, question: question, answerPrefix: prefix, generator: &g)
            return QuestionSample(task: task, prompt: prompt, answerPrefix: prefix, expected: names, depth: depth, answerTokens: 32)
        case .commonwords:
            let chosen = pick(60, from: words), common = Array(chosen.prefix(10)), rare = Array(chosen.dropFirst(10))
            
            let question = "What are the 10 most common words in the above list?"
            let prefix = "The top 10 words that appear most often in the list are:"
            // A numbered list filling the prompt: each common word exactly `c` times, each other word `r` < c times.
            let overhead = builder.engine.tokenizer.encode(try builder.render("\n\nQuestion: " + question + "\nAnswer:") + prefix).count
            let wordTokens = chosen.map { builder.engine.tokenizer.encode(" 100. " + $0, addSpecial: false).count }
            let perEntry = max(1, wordTokens.reduce(0, +) / wordTokens.count)
            let entries = max(40, (tokens - overhead) / perEntry)
            let others = Array(rare.prefix(max(5, min(rare.count, entries * 3 / 10))))
            let r = max(1, entries * 4 / 10 / others.count), c = max(r + 2, (entries - r * others.count) / common.count)
            var list = common.flatMap { Array(repeating: $0, count: c) } + others.flatMap { Array(repeating: $0, count: r) }
            for i in stride(from: list.count - 1, to: 0, by: -1) { list.swapAt(i, Int(g.next() % UInt64(i + 1))) }
            let context = list.enumerated().map { "\($0.offset + 1). \($0.element)" }.joined(separator: " ")
            let prompt = try QuestionPrompt(context: context, question: question, render: builder.render)
            return QuestionSample(task: task, prompt: prompt, answerPrefix: prefix, expected: common, depth: depth, answerTokens: 48)
        case .perplexity:
            throw EngineError.invalidParameter(name: "task", reason: "perplexity is not a question task")
        default:
            throw EngineError.invalidParameter(name: "task", reason: "\(task.rawValue) comes from RULER's generators (RulerSamples)")
        }
    }
}

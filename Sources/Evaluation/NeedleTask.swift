import Engine
import Foundation
import Sampling

/// Needle in a haystack: "The special magic number is N." placed at a depth of filler text, then asked for.
public struct NeedleTask: Sendable {
    public static let question = "What is the special magic number mentioned in the text? Answer with the number only."
    /// Starts the answer (as RULER does), so a small model gives the number rather than restating the question.
    public static let answerPrefix = "The special magic number is"

    public let magicNumber: String
    public let prompt: QuestionPrompt
    public let depth: Double

    /// - Parameters:
    ///   - filler: haystack text tokens to take a stretch from.
    ///   - tokens: target length of the whole prompt (context, needle and question).
    ///   - render: the chat template (kept verbatim around the context).
    public init(engine: InferenceEngine, filler: [Int], tokens: Int, depth: Double, seed: UInt64,
                render: (String) throws -> String) throws {
        var generator = SeededGenerator(seed: seed)
        magicNumber = String(1_000_000 + Int(generator.next() % 9_000_000))
        self.depth = depth
        let needle = " The special magic number is \(magicNumber). "
        let overhead = engine.tokenizer.encode(try render(needle + "\n\nQuestion: " + Self.question + "\nAnswer:")).count
        let length = tokens - overhead
        guard length > 0 else {
            throw EngineError.invalidParameter(name: "context", reason: "\(tokens) tokens leave no room for filler around the needle and question (\(overhead) tokens)")
        }
        guard filler.count > length else {
            throw EngineError.textTooShort(tokens: filler.count, needed: length + 1)
        }
        let start = Int(generator.next() % UInt64(filler.count - length))
        let haystack = engine.tokenizer.decode(Array(filler[start ..< start + length]))
        // The needle goes at the first sentence end after the chosen depth (or at the very start / end).
        let characters = Array(haystack)
        var cut = Int(Double(characters.count) * depth)
        if cut > 0 && cut < characters.count {
            while cut < characters.count && !(characters[cut - 1] == "." && characters[cut] == " ") { cut += 1 }
        }
        let context = String(characters[..<cut]) + needle + String(characters[cut...])
        prompt = try QuestionPrompt(context: context.trimmingCharacters(in: .whitespacesAndNewlines), question: Self.question, render: render)
    }

    public func isCorrect(_ answer: String) -> Bool { answer.contains(magicNumber) }
}

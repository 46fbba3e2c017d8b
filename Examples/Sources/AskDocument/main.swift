// Loads the default model, compresses a long context once with a press, and asks it two questions.
// Run: swift run -c release AskDocument [--press SPEC]   (from Examples/)
import Foundation
import TokenPressKit

let arguments = CommandLine.arguments
let press = arguments.firstIndex(of: "--press").map { arguments[$0 + 1] } ?? "tova@0.5"

let model = try await TokenPressModel.load { print($0) }
let filler = (1 ... 40).map { "Note \($0): the meeting moved to another room, nothing else changed." }
let context = (filler[..<20] + ["The access code for the archive is 7291."] + filler[20...]).joined(separator: " ")

// Prefill and compress once, without any question.
let document = try await model.compress(context: context, press: try PressRegistry.make(press, ratio: 0.5))
let kept = document.statistics.cacheBytesAfterPrompt
let dense = document.statistics.denseCacheBytesAfterPrompt
print("\(press): \(document.tokens.count) context tokens, cache \(kept / 1024) KiB of \(dense / 1024) KiB dense")

// Each question runs on its own copy of the compressed cache; answers stream as they are decoded.
for question in ["What is the access code for the archive?", "What happened to the meeting?"] {
    print("Q: \(question)\nA: ", terminator: "")
    for try await event in document.stream(question, maxTokens: 32) {
        if case .text(let piece) = event { print(piece, terminator: "") }
    }
    print()
}

import Foundation
import GGUF
import TestSupport
import XCTest

/// Hostile command lines and nonsense in model files: each refused with one line naming the option, key or tensor.
final class CLIHostileInputTests: XCTestCase {
    func testNegativeAndOutOfRangeOptionValuesNameTheOption() throws {
        let model = try TinyModel().write()
        try assertFails(["generate", "-m", model, "-p", "hi", "--seed", "-1"], mentioning: "The value '-1' is invalid for '--seed <seed>'")
        try assertFails(["generate", "-m", model, "-p", "hi", "-n", "99999999999999999999"],
                        mentioning: "The value '99999999999999999999' is invalid for '-n <n>'")
        try assertFails(["eval", "-m", model, "--depths", "-1"], mentioning: "--depths: '-1' is not a depth in [0, 1]")
        try assertFails(["generate", "-m", model, "-p", "hi", "--temp", "-inf"], mentioning: "--temp must be zero or positive, got -inf")
        try assertFails(["generate", "-m", model, "-p", "hi", "--bogus"], mentioning: "Unknown option '--bogus'")
        // A prompt that starts like a negative number is still a prompt.
        let r = try CLIRunner.run(["generate", "-m", model, "-p", "-1 degrees", "-n", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    func testEmptyContextFileIsNamed() throws {
        let context = temporary("context.txt")
        try " \n".write(toFile: context, atomically: true, encoding: .utf8)
        try assertFails(["generate", "-m", try TinyModel().write(), "--context-file", context, "--question", "q"],
                        mentioning: "--context-file \(context) is empty")
    }

    func testRatioWithoutPressAndRepeatedPressParametersAreRefused() throws {
        let model = try TinyModel().write()
        try assertFails(["generate", "-m", model, "-p", "hi", "--ratio", "0.3"], mentioning: "--ratio needs --press")
        try assertFails(["bench", "-m", model, "--ratio", "0.3"], mentioning: "--ratio needs --press")
        try assertFails(["generate", "-m", model, "-p", "hi", "--press", "snapkv:window=3,window=4"],
                        mentioning: "window: given twice in 'snapkv:window=3,window=4'")
        try assertFails(["generate", "-m", model, "-p", "hi", "--press", "knorm", "--budget", "4", "--ratio", "0.2"],
                        mentioning: "give either --ratio or --budget, not both")
    }

    func testNonsenseHyperparametersAreRefused() throws {
        let base = GGUFKey.ropeFreqBase("llama")
        for value in [Float.nan, .infinity, -.infinity, 0, -5] {
            var w = TinyModel().writer()
            w.set(base, .float32(value))
            try assertFails(["generate", "-m", try write(w), "-p", "hi"], mentioning: "model parameter '\(base)' is invalid")
        }
        let epsilon = GGUFKey.rmsEpsilon("llama")
        for value in [Float.nan, -1e-5, 10] {
            var w = TinyModel().writer()
            w.set(epsilon, .float32(value))
            try assertFails(["generate", "-m", try write(w), "-p", "hi"], mentioning: "model parameter '\(epsilon)' is invalid")
        }
    }

    func testAlignmentOfTheWrongTypeIsRefused() throws {
        var w = TinyModel().writer()
        w.set(GGUFKey.alignment, .float32(32))
        try assertFails(["generate", "-m", try write(w), "-p", "hi"],
                        mentioning: "GGUF metadata key 'general.alignment' should be an integer but is float32")
    }

    func testOverlappingTensorsAreRefused() throws {
        var w = TinyModel().writer()
        w.addTensor("extra.weight", dimensions: [32], type: .f32, data: Array(repeating: 0, count: 128), offsetOverride: 0)
        try assertFails(["generate", "-m", try write(w), "-p", "hi"], mentioning: "and 'extra.weight' overlap in the file")
    }

    /// `tokenizer.ggml.merges` tagged int32 makes the parser read a "key" out of the merges' bytes.
    func testNamesFromACorruptFileAreEscapedAndCut() throws {
        var bytes = TinyModel().writer().data()
        let map = GGUFFieldMap(bytes)
        let type = try XCTUnwrap(map.fields.first { $0.label == "type of \(GGUFKey.Tokenizer.merges)" })
        bytes.replaceSubrange(type.offset ..< type.offset + 4, with: [5, 0, 0, 0])
        let path = temporary("merges-as-int32.gguf")
        try bytes.write(to: URL(fileURLWithPath: path))
        let r = try CLIRunner.run(["generate", "-m", path, "-p", "hi"])
        XCTAssertNotEqual(r.status, 0)
        let line = r.stderr.trimmingCharacters(in: .newlines)
        XCTAssertTrue(line.hasPrefix("Error: GGUF"), line)
        XCTAssertFalse(line.contains("\n"), line)
        XCTAssertLessThan(line.count, 300, line)
        XCTAssertFalse(line.unicodeScalars.contains { $0.value < 0x20 }, line.debugDescription)
    }
}

import Engine
import Evaluation
import Foundation
import XCTest

/// RULER's own generators (PyPI nvidia-long-context-eval, installed with pip into the cache folder), run as
/// `tokenpress eval --suite ruler` runs them, with the length budget counted by this binary's tokenizer.
final class RulerGeneratorTests: XCTestCase {
    /// FNV-1a 64 of the 3 samples of niah_single_1 at 1,024 tokens, seed 42, on the default model: the same file on
    /// every machine (nothing in it depends on the CPU), so a change to the generators' inputs or the budget shows here.
    static let expectedHash: UInt64 = 0xedf2_9c51_025a_9fac

    func generate(_ task: EvaluationPlan.Task, count: Int, seed: UInt64, split: EvaluationPlan.Split = .test) throws -> [String] {
        let model = try ProcessInfo.processInfo.environment["TOKENPRESS_MODEL"] ?? DefaultModel.path { print($0) }
        try RulerSamples.installGenerators { print($0) }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("ruler-\(UUID().uuidString).jsonl")
        defer { try? FileManager.default.removeItem(at: file) }
        try RulerSamples.generate(task: task, length: 1024, count: count, seed: seed, split: split, model: model,
                                  tokenpress: CLIRunner.binary.path, to: file)
        return try String(contentsOf: file, encoding: .utf8).split(separator: "\n").map(String.init)
    }

    func testTheSameSeedGivesTheSameSamplesWhateverTheirCount() throws {
        let three = try generate(.niahSingle1, count: 3, seed: 42)
        XCTAssertEqual(three.count, 3)
        let hash = KLDivergenceBase.fnv1a(Array(three.joined(separator: "\n").utf8))
        XCTAssertEqual(hash, Self.expectedHash, "samples changed: FNV-1a \(String(hash, radix: 16))")
        let two = try generate(.niahSingle1, count: 2, seed: 42)
        XCTAssertEqual(two, Array(three.prefix(2)), "a smaller set is the start of a larger one (RulerSamples reuses it)")
        let samples = try three.map { try JSONDecoder().decode(RulerSample.self, from: Data($0.utf8)) }
        XCTAssertEqual(samples.map(\.index), [0, 1, 2])
        for sample in samples {
            let question = try sample.question(task: .niahSingle1)
            XCTAssertTrue(question.prompt.contextPart.contains(sample.outputs[0]), "the needle is in the context, not the question")
            XCTAssertFalse(question.prompt.questionPart.contains(sample.outputs[0]))
        }
    }

    /// niah_single_2 hides its needle in the essays (niah_single_1 in repeated sentences): the calibration split's
    /// haystack is other essays, and its needles other numbers.
    func testTheCalibrationSplitReadsOtherEssays() throws {
        let test = try generate(.niahSingle2, count: 1, seed: 42)
        let calibration = try generate(.niahSingle2, count: 1, seed: RulerSamples.seed(split: .calibration, planSeed: 0),
                                       split: .calibration)
        let testSample = try JSONDecoder().decode(RulerSample.self, from: Data(test[0].utf8))
        let calibrationSample = try JSONDecoder().decode(RulerSample.self, from: Data(calibration[0].utf8))
        XCTAssertGreaterThan(calibrationSample.input.count, 2000)
        // The haystacks share no stretch of 200 characters.
        let probe = String(calibrationSample.input.dropFirst(400).prefix(200))
        XCTAssertFalse(testSample.input.contains(probe), probe)
        XCTAssertNotEqual(testSample.outputs, calibrationSample.outputs)
    }
}

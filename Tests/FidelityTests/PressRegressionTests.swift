import Engine
import Foundation
import KVCache
import Presses
import XCTest

/// Every press on the real model gives the tokens and the exact cache bytes recorded in `press_regression.json`
/// (tokens recorded on the AVX2 build before the attention seam; bytes re-recorded when positions became runs, every
/// token unchanged; `TOKENPRESS_RECORD=1` rewrites it). A refactoring of the
/// cache, the attention or the presses that changes which tokens a press keeps, or what it counts, fails here.
final class PressRegressionTests: XCTestCase {
    struct Record: Codable, Equatable {
        var press: String
        var tokens: [Int]
        var bytes: Int
        var retained: Int
    }

    /// Scorers, allocators, profile-guided and merging presses at 0.5, composed, and the three wrappers.
    static let specifications = PressRegistry.names.map { "\($0)@0.5" } + [
        "streaming@0.25+snapkv@0.5", "adakv(expected)@0.5", "pyramid(tova)@0.75", "minicache:start=10,angle=180",
    ]

    /// A deterministic stand-in for a measured profile (the real one depends on a calibration run).
    static var profile: HeadProfile {
        func grid(_ salt: Int) -> [[Float]] {
            (0 ..< 30).map { l in (0 ..< 3).map { h in Float((l * 7 + h * 13 + salt) % 17) / 17 } }
        }
        var profile = HeadProfile(model: "regression", echo: grid(1), induction: grid(5), passkey: grid(9))
        profile.queryRetrieval = (0 ..< 30).map { l in (0 ..< 9).map { h in Float((l * 5 + h * 11) % 19) / 19 } }
        return profile
    }

    func testEveryPressKeepsTheRecordedTokensAndBytes() throws {
        let engine = try ReferenceModel.engine()
        let text = try ReferenceModel.fixtureText("perplexity_text.txt")
        let context = Array(engine.tokenizer.encode(text).prefix(700))
        let prompt = context + engine.tokenizer.encode("\nQuestion: what is this text about? Answer:", addSpecial: false)
        var records: [Record] = []
        let presses = try Self.specifications.map { try PressRegistry.make($0, ratio: 0.5, profile: Self.profile) }
        // One prefill recording what every press reads; each press compresses its own copy.
        let needs = presses.reduce(AttentionNeeds.none) { $0.union($1.needs) }
        let prefilled = engine.model.makeCache()
        prefilled.statistics = AttentionStatistics(needs: needs, layers: prefilled.layers.count, kvHeads: prefilled.kvHeads)
        _ = try engine.prefill(Array(prompt.dropLast()), cache: prefilled)
        for (specification, press) in zip(Self.specifications, presses) {
            let cache = prefilled.copy()
            let result = try engine.generate(prompt: prompt, maxTokens: 12, cache: cache, press: press)
            records.append(Record(press: specification, tokens: result.tokens, bytes: result.statistics.cacheBytesAfterPrompt,
                                  retained: cache.retainedTokens))
        }
        // The wrappers prefill themselves (chunked compresses between passes; decoding compresses every 8 tokens).
        let wrappers: [(String, any KVPress)] = [
            ("chunked(snapkv)@0.5:128", try ChunkedPress(scorer: PressRegistry.scorer("snapkv", ratio: 0.5), chunk: 128)),
            ("budget(h2o):200", try BudgetPress(scorer: PressRegistry.scorer("h2o", ratio: 0), budget: 200)),
            ("decoding(streaming):256/8", try DecodingPress(scorer: PressRegistry.scorer("streaming", ratio: 0.5), budget: 256,
                                                            interval: 8)),
        ]
        for (name, press) in wrappers {
            let cache = engine.model.makeCache()
            let result = try engine.generate(prompt: prompt, maxTokens: 24, cache: cache, press: press)
            records.append(Record(press: name, tokens: result.tokens, bytes: cache.byteCount, retained: cache.retainedTokens))
        }
        if ProcessInfo.processInfo.environment["TOKENPRESS_RECORD"] == "1" {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/press_regression.json")
            try encoder.encode(records).write(to: url)
            return
        }
        let expected = try JSONDecoder().decode([Record].self, from: ReferenceModel.fixture("press_regression.json"))
        // Matched by name: the registry's listing order is not part of what is recorded.
        XCTAssertEqual(Set(records.map(\.press)), Set(expected.map(\.press)), "the recorded presses")
        let recorded = Dictionary(uniqueKeysWithValues: expected.map { ($0.press, $0) })
        for got in records {
            XCTAssertEqual(got, recorded[got.press], "\(got.press) keeps other tokens or counts other bytes than recorded")
        }
    }
}

import Engine
import Foundation
import KVCache
import XCTest

/// Gemma 3's sliding-window layers hold only what a later query can see, and releasing the rest changes nothing.
final class Gemma3SlidingWindowTests: XCTestCase {
    func testLocalLayersReleaseWhatNoQuerySeesWithoutChangingALogit() throws {
        let engine = try ReferenceModel.gemma3()
        let model = engine.model
        let text = try ReferenceModel.fixtureText("perplexity_text.txt")
        let prompt = Array(engine.tokenizer.encode(text).prefix(700))
        let bounded = model.makeCache()
        let unbounded = model.makeCache()
        unbounded.releasesOutsideWindows = false
        var a = try model.forward(tokens: prompt, cache: bounded, logits: .lastToken)
        var b = try model.forward(tokens: prompt, cache: unbounded, logits: .lastToken)
        XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern), "after the prompt")
        var next = prompt[0]
        for step in 0 ..< 40 {
            next = a.indices.max { a[$0] < a[$1] }!
            a = try model.forward(tokens: [next], cache: bounded, logits: .lastToken)
            b = try model.forward(tokens: [next], cache: unbounded, logits: .lastToken)
            XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern), "decode step \(step)")
            for (l, layer) in bounded.layers.enumerated() {
                let held = layer.heads[0].attendedCount
                if let window = layer.spec.slidingWindow {
                    XCTAssertLessThanOrEqual(held, window - 1 + KVCache.releaseRun - 1, "layer \(l)")
                    let oldest = Int(layer.heads[0].positions[0])
                    XCTAssertGreaterThanOrEqual(oldest, bounded.nextPosition - window - KVCache.releaseRun, "layer \(l)")
                } else {
                    XCTAssertEqual(held, bounded.nextPosition, "global layer \(l) keeps every token")
                }
            }
        }
        let local = bounded.layers.filter { $0.spec.slidingWindow != nil }.count
        XCTAssertEqual(local, 15, "Gemma 3 270M: five local layers before each of its three global ones")
        let released = unbounded.retainedTokens - bounded.retainedTokens
        XCTAssertEqual(bounded.windowReleasedTokens, released)
        XCTAssertEqual(bounded.windowSavedBytes, released * bounded.headDimension * 4)
        XCTAssertEqual(unbounded.byteCount - bounded.byteCount, released * bounded.headDimension * 4,
                       "every released token freed its f16 key and value")
    }
}

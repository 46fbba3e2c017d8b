import Foundation
import Server
import XCTest

/// Cached prompts saved to disk and restored by another server process's worth of state: the restored cache answers
/// as the saved one did; names cannot leave the folder; truncated, corrupted and foreign files are refused.
final class ServerSlotTests: XCTestCase {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("slots-\(UUID().uuidString)")

    override func setUpWithError() throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: folder)
    }

    func ask(_ question: String, compression: [String: Any] = ["press": "snapkv", "ratio": 0.5]) -> [String: Any] {
        let document = String(repeating: "hello world of words. ", count: 12)
        return ["messages": [["role": "system", "content": document], ["role": "user", "content": question]],
                "max_tokens": 10, "temperature": 0, "kv_compression": compression]
    }

    func cached(_ reply: HTTPTestClient.Reply) -> Int {
        let usage = reply.json["usage"] as? [String: Any]
        return (usage?["prompt_tokens_details"] as? [String: Any])?["cached_tokens"] as? Int ?? -1
    }

    func answer(_ reply: HTTPTestClient.Reply) -> String? {
        ((reply.json["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"] as? String
    }

    func testASavedCompressedPromptIsRestoredAndAnswersAsBefore() throws {
        // Evicted f16, GEAR's three parts, Mustafar's sparse rows, MiniCache's shared tokens (heads of 32: width 128).
        let model = try ServerFixture.tinyModel(width: 128)
        for compression in [["press": "snapkv", "ratio": 0.5], ["press": "gear"], ["press": "mustafar"],
                            ["press": "minicache:start=0,retain=0.25,angle=180"]] {
            try checkRoundTrip(model: model, compression: compression)
        }
    }

    private func checkRoundTrip(model: String, compression: [String: Any]) throws {
        let name = "\(compression)"
        let path = folder.path
        let first = try ServerFixture(modelPath: model) { $0.slotSavePath = path }
        _ = try first.client.post("/v1/chat/completions", object: ask("what is it?", compression: compression))
        let expected = try first.client.post("/v1/chat/completions", object: ask("tell me a story",
                                                                                  compression: compression))
        let caches = try XCTUnwrap(first.client.get("/slots").json["prompt_caches"] as? [[String: Any]])
        let compressed = try XCTUnwrap(caches.first { ($0["extendable"] as? Bool) == false }, name)
        let id = try XCTUnwrap(compressed["id"] as? Int)
        let saved = try first.client.post("/slots/\(id)?action=save", object: ["filename": "doc.bin"])
        XCTAssertEqual(saved.status, 200, "\(name): \(saved.text)")
        XCTAssertEqual(saved.json["n_saved"] as? Int, compressed["tokens"] as? Int, name)
        first.stop()

        let second = try ServerFixture(modelPath: model) { $0.slotSavePath = path }
        defer { second.stop() }
        let restored = try second.client.post("/slots/0?action=restore", object: ["filename": "doc.bin"])
        XCTAssertEqual(restored.status, 200, "\(name): \(restored.text)")
        let reply = try second.client.post("/v1/chat/completions", object: ask("tell me a story",
                                                                                compression: compression))
        XCTAssertGreaterThan(cached(reply), 100, "\(name): the restored prompt was not reused")
        XCTAssertEqual(answer(reply), answer(expected), name)
        let newID = try XCTUnwrap(restored.json["id_slot"] as? Int)
        XCTAssertEqual(try second.client.post("/slots/\(newID)?action=erase", json: "").status, 200)
        XCTAssertEqual(try second.client.post("/slots/\(newID)?action=erase", json: "").status, 404)
    }

    func testBadNamesAndBrokenFilesAreRefused() throws {
        let model = try ServerFixture.tinyModel()
        let path = folder.path
        let server = try ServerFixture(modelPath: model) { $0.slotSavePath = path }
        defer { server.stop() }
        let client = server.client
        _ = try client.post("/v1/chat/completions", object: ask("what is it?"))
        let caches = try XCTUnwrap(client.get("/slots").json["prompt_caches"] as? [[String: Any]])
        let id = try XCTUnwrap(caches.first?["id"] as? Int)
        for name in ["../escape.bin", "a/b.bin", ".hidden", "", "x\u{0}y", String(repeating: "n", count: 300)] {
            let reply = try client.post("/slots/\(id)?action=save", object: ["filename": name])
            XCTAssertEqual(reply.status, 400, "'\(name)': \(reply.text)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.deletingLastPathComponent()
            .appendingPathComponent("escape.bin").path))
        XCTAssertEqual(try client.post("/slots/999?action=save", object: ["filename": "x.bin"]).status, 404)
        XCTAssertEqual(try client.post("/slots/\(id)?action=fly", object: ["filename": "x.bin"]).status, 400)
        XCTAssertEqual(try client.post("/slots/0?action=restore", object: ["filename": "missing.bin"]).status, 404)

        XCTAssertEqual(try client.post("/slots/\(id)?action=save", object: ["filename": "good.bin"]).status, 200)
        let good = try Data(contentsOf: folder.appendingPathComponent("good.bin"))
        func restore(_ bytes: Data, as name: String) throws -> HTTPTestClient.Reply {
            try bytes.write(to: folder.appendingPathComponent(name))
            return try client.post("/slots/0?action=restore", object: ["filename": name])
        }
        let truncated = try restore(good.prefix(good.count / 2), as: "cut.bin")
        XCTAssertEqual(truncated.status, 400)
        XCTAssertTrue(truncated.error?["message"].map { "\($0)" }?.contains("checksum") == true, truncated.text)
        var flipped = good
        flipped[good.count / 3] ^= 0x01
        XCTAssertEqual(try restore(flipped, as: "flip.bin").status, 400)
        let garbage = try restore(Data("not a slot".utf8), as: "garbage.bin")
        XCTAssertEqual(garbage.status, 400)
        XCTAssertTrue(garbage.text.contains("truncated") || garbage.text.contains("not a TokenPress"), garbage.text)

        // A file of another model.
        let otherPath = try ServerFixture.tinyModel(width: 128)
        let other = try ServerFixture(modelPath: otherPath) { $0.slotSavePath = path }
        defer { other.stop() }
        let foreign = try other.client.post("/slots/0?action=restore", object: ["filename": "good.bin"])
        XCTAssertEqual(foreign.status, 400)
        XCTAssertTrue(foreign.text.contains("another model"), foreign.text)
        // Still serving.
        XCTAssertEqual(try client.post("/v1/chat/completions", object: ask("again")).status, 200)
    }

    func testSavingIsOffWithoutAFolder() throws {
        let server = try ServerFixture(modelPath: try ServerFixture.tinyModel())
        defer { server.stop() }
        let reply = try server.client.post("/slots/1?action=save", object: ["filename": "x.bin"])
        XCTAssertEqual(reply.status, 501)
        XCTAssertTrue(reply.text.contains("--slot-save-path"), reply.text)
    }
}

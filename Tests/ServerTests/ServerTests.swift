import Engine
import Foundation
import Sampling
import Server
import Tokenizer
import XCTest

/// The server's endpoints on a tiny random model: answers equal the engine's own, streams equal whole answers,
/// concurrent requests decode together without mixing, compressed prompts are reused, the KV budget admits more
/// compressed requests, a client that leaves frees its sequence.
final class ServerTests: XCTestCase {
    nonisolated(unsafe) static let question: [String: Any] = ["role": "user", "content": "hello world, tell me a story"]

    func chat(_ messages: [[String: Any]], maxTokens: Int = 12, extra: [String: Any] = [:]) -> [String: Any] {
        var body: [String: Any] = ["messages": messages, "max_tokens": maxTokens, "temperature": 0]
        body.merge(extra) { _, new in new }
        return body
    }

    func content(_ reply: HTTPTestClient.Reply) -> String? {
        let choice = (reply.json["choices"] as? [[String: Any]])?.first
        return (choice?["message"] as? [String: Any])?["content"] as? String ?? choice?["text"] as? String
    }

    func testChatCompletionIsTheEngineGreedyGenerationThroughTheTemplate() throws {
        let server = try ServerFixture(modelPath: try ServerFixture.tinyModel())
        defer { server.stop() }
        let reply = try server.client.post("/v1/chat/completions", object: chat([Self.question], maxTokens: 16))
        XCTAssertEqual(reply.status, 200, reply.text)
        let template = try server.engine.chatTemplate()
        let prompt = server.engine.tokenizer.encode(template.render([ChatMessage(role: "user",
                                                                                 content: "hello world, tell me a story")]))
        let expected = try server.engine.generate(prompt: prompt, maxTokens: 16)
        XCTAssertEqual(content(reply), expected.text)
        let usage = try XCTUnwrap(reply.json["usage"] as? [String: Any])
        XCTAssertEqual(usage["prompt_tokens"] as? Int, prompt.count)
        XCTAssertEqual(usage["completion_tokens"] as? Int, expected.tokens.count)
        let kv = try XCTUnwrap(reply.json["kv_cache"] as? [String: Any])
        XCTAssertEqual(kv["applied"] as? String, "none")
        XCTAssertNotNil(reply.json["timings"] as? [String: Any])
        XCTAssertEqual(reply.json["object"] as? String, "chat.completion")
    }

    func testStreamCarriesTheSameTextAndEndsWithDone() throws {
        let server = try ServerFixture(modelPath: try ServerFixture.tinyModel())
        defer { server.stop() }
        let whole = try server.client.post("/v1/chat/completions", object: chat([Self.question], maxTokens: 20))
        let options: [String: Any] = ["stream": true, "stream_options": ["include_usage": true]]
        let streamed = try server.client.post("/v1/chat/completions",
                                              object: chat([Self.question], maxTokens: 20, extra: options))
        XCTAssertEqual(streamed.status, 200)
        XCTAssertEqual(streamed.headers["content-type"], "text/event-stream")
        let events = ServerSentEvents(streamed.text)
        XCTAssertTrue(events.done, "a stream ends with data: [DONE]")
        let text = events.objects.compactMap { event -> String? in
            let choice = (event["choices"] as? [[String: Any]])?.first
            return (choice?["delta"] as? [String: Any])?["content"] as? String
        }.joined()
        XCTAssertEqual(text, content(whole))
        XCTAssertEqual(events.objects.compactMap { $0["usage"] }.count, 1)
        XCTAssertEqual(events.objects.compactMap { $0["kv_cache"] }.count, 1)
    }

    func testConcurrentRequestsDecodeTogetherAndEachGetsItsOwnAnswer() throws {
        let server = try ServerFixture(modelPath: try ServerFixture.tinyModel()) { $0.parallel = 4 }
        defer { server.stop() }
        let prompts = ["hello", "world of words", "tell me a story about a cat", "hello hello world"]
        let bodies = try prompts.map {
            try JSONSerialization.data(withJSONObject: chat([["role": "user", "content": $0]], maxTokens: 40))
        }
        let alone = try bodies.map { content(try server.client.post("/v1/chat/completions", data: $0)) }
        let client = server.client
        let together = concurrently(4) { index in try client.post("/v1/chat/completions", data: bodies[index]) }
        for (index, result) in together.enumerated() {
            XCTAssertEqual(content(try result.get()), alone[index], "request \(index) got another's tokens")
        }
        let metrics = try server.client.get("/metrics").text
        let batch = metrics.components(separatedBy: "\n").first { $0.hasPrefix("tokenpress:decode_batch_size_max ") }
        let largest = batch.flatMap { Double($0.split(separator: " ")[1]) } ?? 0
        XCTAssertGreaterThan(largest, 1, "concurrent requests were decoded one at a time:\n\(metrics)")
    }

    func testCompressedPromptIsReusedByTheNextQuestionWithTheSameAnswer() throws {
        let document = String(repeating: "hello world of words. ", count: 12)
        let compression: [String: Any] = ["kv_compression": ["press": "snapkv", "ratio": 0.5]]
        func ask(_ question: String) -> [String: Any] {
            chat([["role": "system", "content": document], ["role": "user", "content": question]], maxTokens: 10,
                 extra: compression)
        }
        let server = try ServerFixture(modelPath: try ServerFixture.tinyModel())
        defer { server.stop() }
        let fresh = try ServerFixture(modelPath: try ServerFixture.tinyModel()) { $0.cacheRAM = 0 }
        defer { fresh.stop() }
        let first = try server.client.post("/v1/chat/completions", object: ask("what is it?"))
        XCTAssertEqual(first.status, 200, first.text)
        let kv = try XCTUnwrap(first.json["kv_cache"] as? [String: Any])
        let bytes = try XCTUnwrap(kv["bytes"] as? Int)
        let dense = try XCTUnwrap(kv["dense_f16_bytes"] as? Int)
        XCTAssertLessThan(Double(bytes), Double(dense) * 0.7, "snapkv at 0.5 freed too little: \(kv)")
        XCTAssertEqual(kv["applied"] as? String, "snapkv @ ratio 0.5")
        let second = try server.client.post("/v1/chat/completions", object: ask("tell me a story"))
        let usage = try XCTUnwrap(second.json["usage"] as? [String: Any])
        let cached = try XCTUnwrap((usage["prompt_tokens_details"] as? [String: Any])?["cached_tokens"] as? Int)
        XCTAssertGreaterThan(cached, 100, "the compressed document was read again")
        // The reused cache answers as a freshly compressed one does.
        let recomputed = try fresh.client.post("/v1/chat/completions", object: ask("tell me a story"))
        XCTAssertEqual(content(second), content(recomputed))
        let freshUsage = try XCTUnwrap(recomputed.json["usage"] as? [String: Any])
        XCTAssertEqual((freshUsage["prompt_tokens_details"] as? [String: Any])?["cached_tokens"] as? Int, 0)
    }

    func testAChatTurnContinuesTheCacheOfThePreviousTurn() throws {
        let server = try ServerFixture(modelPath: try ServerFixture.tinyModel())
        defer { server.stop() }
        let first = try server.client.post("/v1/chat/completions", object: chat([Self.question], maxTokens: 8))
        let answer = try XCTUnwrap(content(first))
        let turns: [[String: Any]] = [Self.question, ["role": "assistant", "content": answer],
                                      ["role": "user", "content": "and then?"]]
        let second = try server.client.post("/v1/chat/completions", object: chat(turns, maxTokens: 8))
        let usage = try XCTUnwrap(second.json["usage"] as? [String: Any])
        let cached = (usage["prompt_tokens_details"] as? [String: Any])?["cached_tokens"] as? Int ?? 0
        XCTAssertGreaterThan(cached, 10)
        let template = try server.engine.chatTemplate()
        let messages = turns.map { ChatMessage(role: $0["role"] as! String, content: $0["content"] as! String) }
        let expected = try server.engine.generate(prompt: server.engine.tokenizer.encode(template.render(messages)),
                                                  maxTokens: 8)
        XCTAssertEqual(content(second), expected.text)
    }

    func testAKVBudgetAdmitsMoreCompressedRequestsAtOnce() throws {
        // Big enough that four requests of 1,500 tokens overlap in time.
        let path = try ServerFixture.tinyModel(context: 2048, width: 512, layers: 8)
        let long = String(repeating: "hello world ", count: 10)
        let maxTokens = 1500
        // Room for one and a half dense requests (8 layers × 2 KV heads × 128 dimensions × K and V × 2 bytes per token).
        let engine = try InferenceEngine(modelPath: path)
        let template = try engine.chatTemplate()
        let promptTokens = engine.tokenizer.encode(template.render([ChatMessage(role: "user", content: long)])).count
        let perToken = 8 * 2 * 128 * 2 * 2
        let budget = (promptTokens + maxTokens) * perToken * 15 / 10
        func peak(_ compression: [String: Any]?) throws -> Double {
            let server = try ServerFixture(modelPath: path) {
                $0.parallel = 4
                $0.kvMemoryTotal = budget
            }
            defer { server.stop() }
            let client = server.client
            var object = chat([["role": "user", "content": long]], maxTokens: maxTokens, extra: ["stop": ["never"]])
            if let compression { object["kv_compression"] = compression }
            let body = try JSONSerialization.data(withJSONObject: object)
            let replies = concurrently(4) { _ in try client.post("/v1/chat/completions", data: body) }
            for reply in replies {
                let answered = try reply.get()
                XCTAssertEqual(answered.status, 200, answered.text)
            }
            let metrics = try client.get("/metrics").text
            let line = metrics.components(separatedBy: "\n").first { $0.hasPrefix("tokenpress:requests_processing_max ") }
            return line.flatMap { Double($0.split(separator: " ")[1]) } ?? 0
        }
        let dense = try peak(nil)
        XCTAssertEqual(dense, 1, "the budget fits one dense request")
        let compressed = try peak(["cache_type_k": "q8_0", "cache_type_v": "q8_0"])
        XCTAssertGreaterThan(compressed, dense, "q8_0 caches are about half the size: more of them fit")
        print("KV budget \(budget) bytes: \(dense) dense requests at once, \(compressed) with q8_0 caches")
    }

    func testAClientThatLeavesStopsItsGenerationStreamedOrNot() throws {
        // Slow enough (about a millisecond a token) that 4,000 tokens outlast the half second a whole answer's
        // disconnect takes to notice.
        let path = try ServerFixture.tinyModel(context: 4096, width: 512, layers: 8)
        let server = try ServerFixture(modelPath: path)
        defer { server.stop() }
        // With ignore_eos only the client can stop the generation early.
        for (index, stream) in [true, false].enumerated() {
            let body = try JSONSerialization.data(withJSONObject: ["prompt": "hello world", "max_tokens": 4000,
                                                                   "temperature": 0, "stream": stream,
                                                                   "ignore_eos": true])
            do {
                let connection = try HTTPTestClient.Connection(port: server.client.port)
                try connection.send("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.count)\r\n\r\n")
                try connection.send(body)
                if stream {
                    _ = connection.read(until: "\"text\"")
                } else {
                    Thread.sleep(forTimeInterval: 0.2)
                }
            }
            // The connection is closed; the generation must stop well before its 4,000 tokens.
            var running = 1
            for _ in 0 ..< 100 {
                Thread.sleep(forTimeInterval: 0.1)
                running = (try server.client.get("/slots").json["sequences"] as? [Any])?.count ?? 1
                if running == 0 { break }
            }
            let metrics = try server.client.get("/metrics").text
            func value(_ name: String) -> Double {
                let line = metrics.components(separatedBy: "\n").first { $0.hasPrefix("tokenpress:\(name) ") }
                return line.flatMap { Double($0.split(separator: " ")[1]) } ?? -1
            }
            XCTAssertEqual(running, 0, "the sequence still runs after its client left (stream: \(stream))")
            XCTAssertEqual(value("requests_cancelled_total"), Double(index + 1),
                           "the generation was not cancelled (stream: \(stream)):\n\(metrics)")
            XCTAssertLessThan(value("tokens_predicted_total"), Double(3000 * (index + 1)))
        }
    }

    func testAStreamWhoseClientLeavesWhileQueuedNeverRuns() throws {
        let path = try ServerFixture.tinyModel(context: 4096, width: 512, layers: 8)
        let server = try ServerFixture(modelPath: path) { $0.parallel = 1 }
        defer { server.stop() }
        let client = server.client
        let long = try JSONSerialization.data(withJSONObject: ["prompt": "hello", "max_tokens": 1500, "temperature": 0,
                                                               "ignore_eos": true])
        let first = Thread { _ = try? client.post("/v1/completions", data: long) }
        first.start()
        Thread.sleep(forTimeInterval: 0.2)
        let queued = try JSONSerialization.data(withJSONObject: ["prompt": "world", "max_tokens": 50, "temperature": 0,
                                                                 "stream": true, "ignore_eos": true])
        do {
            let connection = try HTTPTestClient.Connection(port: client.port)
            try connection.send("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: \(queued.count)\r\n\r\n")
            try connection.send(queued)
            _ = connection.read(until: "\r\n\r\n")  // the stream's headers: the request waits behind the first
        }
        var metrics = ""
        for _ in 0 ..< 200 {
            Thread.sleep(forTimeInterval: 0.1)
            metrics = try client.get("/metrics").text
            if metrics.contains("tokenpress:tokens_predicted_total 1500") { break }
        }
        XCTAssertTrue(metrics.contains("tokenpress:requests_cancelled_total 1"), metrics)
        XCTAssertTrue(metrics.contains("tokenpress:tokens_predicted_total 1500"), "the queued request generated:\n\(metrics)")
    }

    func testCompletionsLogprobsModelsTokenizeAndMetrics() throws {
        let server = try ServerFixture(modelPath: try ServerFixture.tinyModel()) { $0.modelName = "tiny" }
        defer { server.stop() }
        let client = server.client
        let completion = try client.post("/v1/completions", object: ["prompt": "hello world", "max_tokens": 6,
                                                                    "temperature": 0, "logprobs": 3, "echo": true])
        XCTAssertEqual(completion.status, 200, completion.text)
        let text = try XCTUnwrap(content(completion))
        XCTAssertTrue(text.hasPrefix("hello world"), "echo puts the prompt first")
        let choice = try XCTUnwrap((completion.json["choices"] as? [[String: Any]])?.first)
        let logprobs = try XCTUnwrap(choice["logprobs"] as? [String: Any])
        let values = try XCTUnwrap(logprobs["token_logprobs"] as? [Double])
        XCTAssertEqual(values.count, 6)
        XCTAssertTrue(values.allSatisfy { $0 <= 0 })
        // Greedy: every chosen token is the most likely one.
        let tops = try XCTUnwrap(logprobs["top_logprobs"] as? [[String: Double]])
        for (value, top) in zip(values, tops) {
            // Keyed by text: byte tokens that print alike share a key.
            XCTAssertTrue((1 ... 3).contains(top.count))
            XCTAssertEqual(value, top.values.max()!, accuracy: 1e-9)
        }
        let chat = try client.post("/v1/chat/completions", object: chat([Self.question], maxTokens: 4,
                                                                       extra: ["logprobs": true, "top_logprobs": 2]))
        let chatChoice = try XCTUnwrap((chat.json["choices"] as? [[String: Any]])?.first)
        let content = try XCTUnwrap((chatChoice["logprobs"] as? [String: Any])?["content"] as? [[String: Any]])
        XCTAssertEqual(content.count, 4)
        XCTAssertEqual((content[0]["top_logprobs"] as? [Any])?.count, 2)

        let models = try client.get("/v1/models").json
        XCTAssertEqual(((models["data"] as? [[String: Any]])?.first)?["id"] as? String, "tiny")
        let tokens = try XCTUnwrap(client.post("/tokenize", object: ["content": "hello world"]).json["tokens"] as? [Int])
        XCTAssertEqual(tokens, server.engine.tokenizer.encode("hello world", addSpecial: false))
        let back = try client.post("/detokenize", object: ["tokens": tokens]).json["content"] as? String
        XCTAssertEqual(back, "hello world")
        let metrics = try client.get("/metrics")
        XCTAssertEqual(metrics.status, 200)
        for name in ["requests_total", "prompt_tokens_total", "tokens_predicted_total", "kv_cache_bytes",
                     "kv_cache_saved_bytes", "prefix_cache_hits_total", "requests_deferred", "predicted_tokens_seconds"] {
            XCTAssertTrue(metrics.text.contains("tokenpress:\(name)"), "no \(name) in /metrics")
        }
        XCTAssertEqual(try client.get("/health").json["status"] as? String, "ok")
        XCTAssertTrue(try client.get("/").text.contains("<html"), "the page at /")
    }
}

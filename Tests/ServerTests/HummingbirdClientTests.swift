import Engine
import Foundation
import HummingbirdTesting
import NIOCore
import Server
import Tokenizer
import XCTest

/// The server's application driven by Hummingbird's own test clients: `.router` (the routes without a socket) and
/// `.live` (the real HTTP/1.1 channel, its per-connection handlers and the engine thread, over AsyncHTTPClient). The
/// raw-socket tests beside this one reach what a well-behaved client cannot send.
final class HummingbirdClientTests: XCTestCase {
    /// A server over a tiny model (width 128: heads of 32, which q8_0 needs).
    private func application() throws -> (TokenPressServer, InferenceEngine) {
        let path = try ServerFixture.tinyModel(width: 128)
        var configuration = ServerConfiguration()
        configuration.port = 0
        let server = try TokenPressServer(engine: try InferenceEngine(modelPath: path), modelPath: path,
                                          configuration: configuration)
        return (server, try InferenceEngine(modelPath: path))
    }

    private static func json(_ object: [String: Any]) throws -> ByteBuffer {
        ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: object))
    }

    private static func object(_ buffer: ByteBuffer) throws -> [String: Any] {
        let data = Data(buffer.readableBytesView)
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    private static func question(on document: String, _ compression: [String: Any]?) throws -> ByteBuffer {
        var body: [String: Any] = ["messages": [["role": "system", "content": document],
                                                ["role": "user", "content": "Which line?"]],
                                   "max_tokens": 2]
        body["kv_compression"] = compression
        return try json(body)
    }

    func testEveryEndpointThroughTheRouter() async throws {
        let (server, engine) = try application()
        let question: [String: Any] = ["messages": [["role": "user", "content": "Say something."]], "max_tokens": 6,
                                       "temperature": 0]
        let template = try engine.chatTemplate()
        let prompt = engine.tokenizer.encode(template.render([ChatMessage(role: "user", content: "Say something.")]))
        let expected = try engine.generate(prompt: prompt, maxTokens: 6).text
        let hello = engine.tokenizer.encode("Hello there", addSpecial: false)
        let whole = try Self.json(question)
        var streamedQuestion = question
        streamedQuestion["stream"] = true
        let streamed = try Self.json(streamedQuestion)
        try await server.makeApplication().test(.router) { client in
            try await client.execute(uri: "/health", method: .get) { response in
                XCTAssertEqual(response.status, .ok)
                XCTAssertEqual(try Self.object(response.body)["status"] as? String, "ok")
            }
            try await client.execute(uri: "/v1/models", method: .get) { response in
                let data = try XCTUnwrap(try Self.object(response.body)["data"] as? [[String: Any]])
                XCTAssertEqual(data.count, 1)
            }
            try await client.execute(uri: "/v1/chat/completions", method: .post, body: whole) {
                response in
                XCTAssertEqual(response.status, .ok)
                let answer = try Self.object(response.body)
                let choice = try XCTUnwrap((answer["choices"] as? [[String: Any]])?.first)
                XCTAssertEqual((choice["message"] as? [String: Any])?["content"] as? String, expected)
                XCTAssertNotNil(answer["kv_cache"], "every answer reports its cache")
            }
            try await client.execute(uri: "/v1/chat/completions", method: .post, body: streamed) {
                response in
                XCTAssertEqual(response.headers[.contentType], "text/event-stream")
                let text = String(buffer: response.body)
                XCTAssertTrue(text.hasSuffix("data: [DONE]\n\n"), text)
                let pieces = ServerSentEvents(text).objects.compactMap { event -> String? in
                    let choice = (event["choices"] as? [[String: Any]])?.first
                    return (choice?["delta"] as? [String: Any])?["content"] as? String
                }
                XCTAssertEqual(pieces.joined(), expected)
            }
            try await client.execute(uri: "/v1/completions", method: .post,
                                     body: try Self.json(["prompt": "One, two,", "max_tokens": 3])) { response in
                XCTAssertEqual(response.status, .ok)
            }
            try await client.execute(uri: "/tokenize", method: .post, body: try Self.json(["content": "Hello there"])) {
                response in
                let tokens = try XCTUnwrap(try Self.object(response.body)["tokens"] as? [Int])
                XCTAssertEqual(tokens, hello)
            }
            try await client.execute(uri: "/detokenize", method: .post,
                                     body: try Self.json(["tokens": hello])) {
                response in
                XCTAssertEqual(try Self.object(response.body)["content"] as? String, "Hello there")
            }
            try await client.execute(uri: "/metrics", method: .get) { response in
                XCTAssertTrue(String(buffer: response.body).contains("tokenpress:requests_processing"))
            }
            try await client.execute(uri: "/slots", method: .get) { response in
                XCTAssertEqual(response.status, .ok)
            }
            try await client.execute(uri: "/", method: .get) { response in
                XCTAssertTrue(String(buffer: response.body).contains("<html"))
            }
            // A bad request: the OpenAI error shape, and the next request is served.
            try await client.execute(uri: "/v1/chat/completions", method: .post,
                                     body: try Self.json(["messages": "x"])) { response in
                XCTAssertEqual(response.status, .badRequest)
                let error = try XCTUnwrap(try Self.object(response.body)["error"] as? [String: Any])
                XCTAssertEqual(error["param"] as? String, "messages")
            }
            try await client.execute(uri: "/v1/chat/completions", method: .post, body: whole) {
                response in
                XCTAssertEqual(response.status, .ok)
            }
        }
    }

    func testCompressionPerRequestOverTheLiveServer() async throws {
        let (server, _) = try application()
        let document = (0 ..< 12).map { "Line \($0) of the ledger." }.joined(separator: " ")
        try await server.makeApplication().test(.live) { client in
            var bytes: [Int] = []
            for compression in [nil, ["press": "snapkv", "ratio": 0.5], ["cache_type_k": "q8_0",
                                                                          "cache_type_v": "q8_0"]] {
                try await client.execute(uri: "/v1/chat/completions", method: .post,
                                         headers: [.contentType: "application/json"], body: try Self.question(on: document, compression)) {
                    response in
                    XCTAssertEqual(response.status, .ok, String(buffer: response.body))
                    let cache = try XCTUnwrap(try Self.object(response.body)["kv_cache"] as? [String: Any])
                    bytes.append(try XCTUnwrap(cache["bytes"] as? Int))
                }
            }
            XCTAssertLessThan(bytes[1], bytes[0] * 7 / 10, "snapkv 0.5 holds far less than the full cache")
            XCTAssertLessThan(bytes[2], bytes[0] * 6 / 10, "q8_0 keys and values hold about half of f16")
        }
    }
}

import Foundation
import Server
import XCTest

/// Bad and hostile requests get OpenAI's error shape with the right status, and the server goes on serving.
final class ServerHostileInputTests: XCTestCase {
    nonisolated(unsafe) static let good: [String: Any] = ["messages": [["role": "user", "content": "hello"]], "max_tokens": 4,
                                      "temperature": 0]

    func assertError(_ reply: HTTPTestClient.Reply, status: Int, mentioning words: [String], param: String? = nil,
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(reply.status, status, reply.text, file: file, line: line)
        guard let error = reply.error else {
            XCTFail("no error object in \(reply.text)", file: file, line: line)
            return
        }
        let message = error["message"] as? String ?? ""
        XCTAssertFalse(message.contains("\n"), "a one-line message: \(message)", file: file, line: line)
        for word in words {
            XCTAssertTrue(message.contains(word), "'\(message)' does not mention \(word)", file: file, line: line)
        }
        XCTAssertNotNil(error["type"] as? String, file: file, line: line)
        XCTAssertTrue(error.keys.contains("param") && error.keys.contains("code"), file: file, line: line)
        if let param { XCTAssertEqual(error["param"] as? String, param, file: file, line: line) }
    }

    func with(_ changes: [String: Any]) -> [String: Any] {
        Self.good.merging(changes) { _, new in new }
    }

    func testMalformedRequestsAreRefusedOneByOneAndTheServerGoesOn() throws {
        let server = try ServerFixture(modelPath: try ServerFixture.tinyModel()) { $0.maxBodyBytes = 4096 }
        defer { server.stop() }
        let client = server.client
        let path = "/v1/chat/completions"
        assertError(try client.post(path, json: "{\"messages\": [ {"), status: 400, mentioning: ["JSON"])
        assertError(try client.request("POST", path, body: Data([0x7B, 0xFF, 0xFE, 0x7D])), status: 400,
                    mentioning: ["JSON"])
        assertError(try client.post(path, json: "[1, 2]"), status: 400, mentioning: [])
        assertError(try client.post(path, object: ["max_tokens": 3]), status: 400, mentioning: ["messages", "required"],
                    param: "messages")
        assertError(try client.post(path, object: with(["messages": "hi"])), status: 400, mentioning: ["messages"],
                    param: "messages")
        assertError(try client.post(path, object: with(["max_tokens": "ten"])), status: 400,
                    mentioning: ["max_tokens", "integer"], param: "max_tokens")
        assertError(try client.post(path, object: with(["messages": []])), status: 400, mentioning: ["empty"])
        assertError(try client.post(path, object: with(["messages": [["role": "wizard", "content": "x"]]])),
                    status: 400, mentioning: ["wizard"])
        assertError(try client.post(path, object: with(["max_tokens": 1_000_000_000_000])), status: 400,
                    mentioning: ["max_tokens", "context"], param: "max_tokens")
        assertError(try client.post(path, object: with(["max_tokens": -5])), status: 400, mentioning: ["max_tokens"])
        assertError(try client.post(path, object: with(["temperature": 50])), status: 400, mentioning: ["temperature"])
        assertError(try client.post(path, object: with(["n": 3])), status: 400, mentioning: ["'n'"])
        assertError(try client.post(path, object: with(["kv_compression": ["press": "nosuchpress"]])), status: 400,
                    mentioning: ["nosuchpress"], param: "kv_compression.press")
        assertError(try client.post(path, object: with(["kv_compression": ["press": "snapkv", "ratio": 1.5]])),
                    status: 400, mentioning: ["1.5"])
        assertError(try client.post(path, object: with(["kv_compression": ["kv_memory": "lots"]])), status: 400,
                    mentioning: ["lots"], param: "kv_compression.kv_memory")
        assertError(try client.post(path, object: with(["kv_compression": ["press": "snapkv", "kv_memory": "25%"]])),
                    status: 400, mentioning: ["either"])
        assertError(try client.post(path, object: with(["kv_compression": ["cache_type_k": "q3_x"]])), status: 400,
                    mentioning: ["q3_x"])
        assertError(try client.post(path, object: with(["kv_compression": ["cache_type_k": "q8_0"]])), status: 400,
                    mentioning: ["divisible by 32"])
        assertError(try client.post(path, object: with(["kv_compression": ["ratio": 0.5]])), status: 400,
                    mentioning: ["ratio", "press"])
        assertError(try client.post(path, object: with(["kv_compression": ["retrieval_heads": 0.1]])), status: 400,
                    mentioning: ["retrieval_heads", "kv_memory"])
        assertError(try client.post(path, object: with(["kv_compression": ["kv_memory": "25%", "retrieval_heads": 2]])),
                    status: 400, mentioning: ["heads", "[0, 1]"])
        let long = String(repeating: "a b c d ", count: 400)
        assertError(try client.post(path, object: with(["messages": [["role": "user", "content": long]]])),
                    status: 400, mentioning: ["context"])
        assertError(try client.post(path, json: String(repeating: " ", count: 5000)), status: 413, mentioning: ["4096"])
        assertError(try client.post("/v1/completions", object: ["prompt": ["a", "b"]]), status: 400,
                    mentioning: ["prompt"])
        assertError(try client.post("/detokenize", object: ["tokens": [1, -3]]), status: 400, mentioning: ["-3"])
        assertError(try client.get("/v1/nothing"), status: 404, mentioning: [])
        // Still serving.
        let reply = try client.post(path, object: Self.good)
        XCTAssertEqual(reply.status, 200, reply.text)
        XCTAssertEqual(try client.get("/health").json["status"] as? String, "ok")
    }

    func testASlowOrShortBodyTimesOutWithoutHoldingTheServer() throws {
        let server = try ServerFixture(modelPath: try ServerFixture.tinyModel()) { $0.requestTimeoutSeconds = 1 }
        defer { server.stop() }
        let body = try JSONSerialization.data(withJSONObject: Self.good)
        // Announces the whole body, sends part of it, then trickles a byte at a time.
        let connection = try HTTPTestClient.Connection(port: server.client.port, timeout: 10)
        try connection.send("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.count)\r\n\r\n")
        try connection.send(body.prefix(5))
        let started = Date()
        let trickle = Thread {
            for byte in body.dropFirst(5).prefix(20) {
                Thread.sleep(forTimeInterval: 0.3)
                try? connection.send(Data([byte]))
            }
        }
        trickle.start()
        // Meanwhile another client is served.
        XCTAssertEqual(try server.client.post("/v1/chat/completions", object: Self.good).status, 200)
        let reply = try HTTPTestClient.parse(connection.read(until: "}}"))
        XCTAssertEqual(reply.status, 408, reply.text)
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
    }

    func testHeadersSentAByteAtATimeAreCutOffWithoutHoldingTheServer() throws {
        let server = try ServerFixture(modelPath: try ServerFixture.tinyModel()) { $0.requestTimeoutSeconds = 1 }
        defer { server.stop() }
        // A first request, then the next one's head trickled on the same connection: the clock starts again after
        // each answer, so a kept-alive connection is cut off too.
        for firstAnswered in [false, true] {
            let connection = try HTTPTestClient.Connection(port: server.client.port, timeout: 10)
            if firstAnswered {
                try connection.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                XCTAssertEqual(try HTTPTestClient.parse(connection.read(until: "}")).status, 200)
            }
            try connection.send("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")
            let started = Date()
            let trickle = Thread {
                for byte in "X-Slow: \(String(repeating: "a", count: 30))".utf8 {
                    Thread.sleep(forTimeInterval: 0.3)
                    guard (try? connection.send(Data([byte]))) != nil else { return }
                }
            }
            trickle.start()
            // Meanwhile another client is served.
            XCTAssertEqual(try server.client.post("/v1/chat/completions", object: Self.good).status, 200)
            let rest = connection.readAll()
            let waited = Date().timeIntervalSince(started)
            XCTAssertTrue(rest.isEmpty, String(decoding: rest, as: UTF8.self))
            XCTAssertGreaterThan(waited, 0.8, "closed before the deadline")
            XCTAssertLessThan(waited, 5, "a trickled head held the connection for \(waited) s")
        }
    }

    func testAnAPIKeyIsRequiredWhenSet() throws {
        let server = try ServerFixture(modelPath: try ServerFixture.tinyModel()) { $0.apiKey = "sekrit" }
        defer { server.stop() }
        let client = server.client
        assertError(try client.post("/v1/chat/completions", object: Self.good), status: 401, mentioning: ["API key"])
        assertError(try client.post("/v1/chat/completions", object: Self.good,
                                    headers: ["Authorization": "Bearer wrong"]), status: 401, mentioning: [])
        let reply = try client.post("/v1/chat/completions", object: Self.good,
                                    headers: ["Authorization": "Bearer sekrit"])
        XCTAssertEqual(reply.status, 200, reply.text)
        XCTAssertEqual(try client.get("/health").status, 200, "health stays open")
        assertError(try client.get("/metrics"), status: 401, mentioning: [])
    }

    func testABadDefaultCompressionStopsTheServerFromStarting() throws {
        XCTAssertThrowsError(try ServerFixture(modelPath: try ServerFixture.tinyModel()) {
            $0.defaultCompression.press = "nosuchpress"
        }) { error in
            XCTAssertTrue("\(error)".contains("nosuchpress"), "\(error)")
        }
    }
}

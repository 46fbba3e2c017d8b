import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import TestSupport
import XCTest

/// `tokenpress serve` from the binary: bad options are one-line errors; a server starts on a free port, answers, and
/// stops cleanly on SIGTERM.
final class CLIServeTests: XCTestCase {
    func testBadServeOptionsAreOneLineErrors() throws {
        let model = try TinyModel().write()
        try assertFails(["serve", "-m", model, "--port", "99999"], mentioning: "--port must be in 0...65535, got 99999")
        try assertFails(["serve", "-m", model, "--parallel", "0"], mentioning: "--parallel must be between 1 and 256, got 0")
        try assertFails(["serve", "-m", model, "--kv-memory-total", "25%"],
                        mentioning: "--kv-memory-total takes a size such as 256MiB, not a share ('25%')")
        try assertFails(["serve", "-m", model, "--cache-ram", "lots"], mentioning: "'lots' is not a size")
        try assertFails(["serve", "-m", model, "--press", "nosuch"], mentioning: "unknown press 'nosuch'")
        try assertFails(["serve", "-m", model, "--slot-save-path", "/nonexistent/slots"],
                        mentioning: "--slot-save-path /nonexistent/slots is not a folder")
        try assertFails(["serve", "-m", model, "--api-key", ""], mentioning: "--api-key must not be empty")
    }

    func testAServerStartsAnswersAndStopsOnSIGTERM() throws {
        let model = try TinyModel().write()
        let process = Process()
        process.executableURL = CLIRunner.binary
        process.arguments = ["serve", "-m", model, "--port", "0"]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // The port is in the line the server prints once listening.
        var printed = ""
        let deadline = Date().addingTimeInterval(60)
        while !printed.contains("\n"), Date() < deadline {
            let data = errors.fileHandleForReading.availableData
            if data.isEmpty { break }
            printed += String(decoding: data, as: UTF8.self)
        }
        let port = try XCTUnwrap(printed.range(of: #"127\.0\.0\.1:(\d+)"#, options: .regularExpression)
            .map { Int(printed[$0].split(separator: ":")[1])! }, "no listening line in \(printed)")
        let url = URL(string: "http://127.0.0.1:\(port)/health")!
        let fetched = expectation(description: "GET /health")
        nonisolated(unsafe) var health = ""
        URLSession.shared.dataTask(with: url) { data, _, _ in
            health = String(decoding: data ?? Data(), as: UTF8.self)
            fetched.fulfill()
        }.resume()
        wait(for: [fetched], timeout: 30)
        XCTAssertTrue(health.contains("\"status\":\"ok\""), health)
        process.terminate()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "a SIGTERM'd server exits cleanly")
        XCTAssertEqual(process.terminationReason, .exit)
    }
}

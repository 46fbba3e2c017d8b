import Foundation
import XCTest

/// The page at `/` in headless Chromium (Debian's `chromium`; skipped where it is not installed): it sends a question
/// through the streaming API and shows the answer with what the cache held.
final class ServerPageTests: XCTestCase {
    static var chromium: String? {
        ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
    }

    func testThePageAsksAndShowsTheAnswerWithItsCache() throws {
        guard let chromium = Self.chromium else { throw XCTSkip("no headless Chromium on this machine") }
        let server = try ServerFixture(modelPath: try ServerFixture.tinyModel())
        defer { server.stop() }
        // A system message long enough for snapkv's observation window.
        let system = String(repeating: "hello%20world%20", count: 60)
        let url = "http://127.0.0.1:\(server.client.port)/?mode=press&press=snapkv&ratio=0.5&max=16&system=\(system)&ask=hello%20world"
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("chromium-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: profile) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: chromium)
        process.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(profile.path)",
                             "--virtual-time-budget=30000", "--dump-dom", url]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let watchdog = DispatchWorkItem { process.terminate() }
        DispatchQueue.global().asyncAfter(deadline: .now() + 90, execute: watchdog)
        let dom = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        watchdog.cancel()
        XCTAssertTrue(dom.contains("class=\"msg user\">hello world"), "the question is not on the page:\n\(dom.prefix(2000))")
        XCTAssertTrue(dom.contains("class=\"msg assistant\""), "no answer on the page:\n\(dom.suffix(3000))")
        XCTAssertTrue(dom.contains("snapkv @ ratio 0.5:"), "the answer does not say what the cache held:\n\(dom.suffix(3000))")
        XCTAssertTrue(dom.contains("dense"), "no cache sizes on the page")
    }
}

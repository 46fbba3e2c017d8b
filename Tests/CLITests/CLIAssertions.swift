import Foundation
import GGUF
import XCTest

/// What every bad-input test checks: a non-zero exit, nothing on stdout, and exactly one `Error:` line naming the fault.
extension XCTestCase {
    func temporary(_ name: String) -> String { NSTemporaryDirectory() + "/cli-\(UUID().uuidString)-\(name)" }

    func assertFails(_ arguments: [String], input: String? = nil, mentioning expected: String,
                     file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try CLIRunner.run(arguments, input: input)
        XCTAssertFalse(r.signaled, "killed by a signal", file: file, line: line)
        XCTAssertNotEqual(r.status, 0, "exit status", file: file, line: line)
        XCTAssertEqual(r.stdout, "", file: file, line: line)
        let lines = r.stderr.split(separator: "\n", omittingEmptySubsequences: true)
        XCTAssertEqual(lines.count, 1, "expected one line, got: \(r.stderr)", file: file, line: line)
        XCTAssertTrue(r.stderr.hasPrefix("Error: "), r.stderr, file: file, line: line)
        XCTAssertTrue(r.stderr.contains(expected), "\(r.stderr) does not mention \(expected)", file: file, line: line)
    }

    func write(_ writer: GGUFWriter) throws -> String {
        let p = temporary("model.gguf")
        try writer.write(to: p)
        return p
    }
}

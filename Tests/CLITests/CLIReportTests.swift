import Foundation
import TestSupport
import XCTest

/// `tokenpress report`: results files of separate `eval` runs combined into one report; bad files refused in a line.
final class CLIReportTests: XCTestCase {
    func evalArguments(_ model: String, press: String, json: String) -> [String] {
        ["eval", "-m", model, "--press", press, "--ratios", "0.5", "--tasks", "perplexity", "--contexts", "128",
         "--continuation", "8", "--haystack", model + ".txt", "--json", json]
    }

    func testTwoRunsBecomeOneReport() throws {
        var tiny = TinyModel()
        tiny.context = 512
        let model = try tiny.write()
        try String(repeating: "The field and the well. ", count: 200).write(toFile: model + ".txt", atomically: true,
                                                                            encoding: .utf8)
        let a = temporary("a.json"), b = temporary("b.json"), plots = temporary("plots")
        for (press, json) in [("knorm", a), ("streaming", b)] {
            let r = try CLIRunner.run(evalArguments(model, press: press, json: json))
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        let r = try CLIRunner.run(["report", a, b, "--plots", plots])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("| knorm | 0.500 |"), r.stdout)
        XCTAssertTrue(r.stdout.contains("| streaming | 0.500 |"), r.stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: plots + "/kl-vs-bytes.svg"))
        try assertFails(["report", a, temporary("missing.json")],
                        mentioning: "missing.json does not exist or is a folder")
        try assertFails(["report", a, model + ".txt"],
                        mentioning: ".txt is not a results file of tokenpress eval --json")
        try assertFails(["report"], mentioning: "give one or more results files of tokenpress eval --json")
        var other = evalArguments(model, press: "knorm", json: temporary("c.json"))
        other[other.firstIndex(of: "128")!] = "96"
        XCTAssertEqual(try CLIRunner.run(other).status, 0)
        try assertFails(["report", a, other.last!], mentioning: "they differ in contexts (128 against 96)")
    }
}

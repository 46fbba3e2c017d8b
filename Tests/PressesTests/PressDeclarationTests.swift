import Foundation
import XCTest

import Presses

/// The registry, `--help` and the README are built from the presses' declarations: they must agree.
final class PressDeclarationTests: XCTestCase {
    func testReadmeTablesAreTheGeneratedOnes() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let begin = try XCTUnwrap(readme.range(of: "-->\n", range: try XCTUnwrap(readme.range(of: "<!-- press tables"))
            .lowerBound ..< readme.endIndex))
        let end = try XCTUnwrap(readme.range(of: "<!-- end of press tables -->"))
        XCTAssertEqual(String(readme[begin.upperBound ..< end.lowerBound]), PressRegistry.markdownTables(),
                       "README press tables are stale: paste `tokenpress presses --markdown` between the markers")
    }

    func testNamesAreUniqueAndEveryFamilyIsListed() {
        XCTAssertEqual(Set(PressRegistry.names).count, PressRegistry.names.count)
        XCTAssertEqual(PressRegistry.names.count, 25)
        for family in PressDeclaration.Family.allCases {
            XCTAssertFalse(PressRegistry.names(of: family).isEmpty, "\(family)")
        }
        XCTAssertEqual(Set(PressRegistry.ratioFreeNames), ["mass", "minicache", "cache-type", "kivi", "zipvl", "mustafar", "gear"])
    }

    /// A bare name builds the press the initializer's defaults build (the defaults are written once).
    func testDeclaredDefaultsAreTheInitializersDefaults() throws {
        let snap = try XCTUnwrap(try PressRegistry.scorer("snapkv", ratio: 0.5) as? SnapKVPress)
        let snapDefault = try SnapKVPress(compressionRatio: 0.5)
        XCTAssertEqual(snap.window, snapDefault.window)
        XCTAssertEqual(snap.kernel, snapDefault.kernel)
        let keyformer = try XCTUnwrap(try PressRegistry.scorer("keyformer", ratio: 0.5) as? KeyformerPress)
        let keyformerDefault = try KeyformerPress(compressionRatio: 0.5)
        XCTAssertEqual(keyformer.temperature, keyformerDefault.temperature)
        XCTAssertEqual(keyformer.window, keyformerDefault.window)
        let a2sf = try XCTUnwrap(try PressRegistry.scorer("a2sf", ratio: 0.5) as? A2SFPress)
        XCTAssertEqual(a2sf.forgetting, try A2SFPress(compressionRatio: 0.5).forgetting)
        let mini = try XCTUnwrap(try PressRegistry.make("minicache", ratio: 0.5) as? MiniCachePress)
        let miniDefault = try MiniCachePress()
        XCTAssertEqual(mini.interpolation, miniDefault.interpolation)
        XCTAssertEqual(mini.maximumAngle, miniDefault.maximumAngle)
        XCTAssertNil(mini.startLayer)
    }

    func testGivenValuesAreCheckedAgainstTheDeclaration() {
        XCTAssertThrowsError(try PressRegistry.make("snapkv:window=2.5", ratio: 0.5)) { error in
            XCTAssertEqual("\(error)", "invalid press parameter window: must be a whole number, got 2.5")
        }
        XCTAssertThrowsError(try PressRegistry.make("expected:covariance=2", ratio: 0.5)) { error in
            XCTAssertEqual("\(error)", "invalid press parameter covariance: must be 0 or 1, got 2.0")
        }
        XCTAssertThrowsError(try PressRegistry.make("random:seed=-1", ratio: 0.5)) { error in
            XCTAssertEqual("\(error)", "invalid press parameter seed: must be ≥ 0, got -1")
        }
        XCTAssertThrowsError(try PressRegistry.make("tova:window=3", ratio: 0.5)) { error in
            XCTAssertEqual("\(error)", "press tova has no parameter 'window' (known: none)")
        }
    }

    func testHelpNamesEveryParameterWithItsDefault() {
        let help = PressRegistry.helpText()
        for press in PressRegistry.declarations {
            XCTAssertTrue(help.contains(press.name), press.name)
            for parameter in press.parameters {
                let shown = "\(parameter.key)=\(parameter.defaultDescription)"
                XCTAssertTrue(help.contains(shown), "\(press.name) \(parameter.key)")
            }
        }
    }
}

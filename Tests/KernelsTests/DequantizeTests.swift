import Foundation
import Kernels
import XCTest

/// Every format's scalar dequantization against the reference (`gguf.quants.dequantize`, fixtures made by
/// scripts/make_dequant_fixtures.py).
final class DequantizeTests: XCTestCase {
    struct Fixture: Decodable {
        struct Case: Decodable { let type: String; let typeID: UInt32; let data: String; let values: [Float] }
        let cases: [Case]
    }

    /// The reference computes in numpy float32 with its own association; allow a few ulps.
    static let relativeTolerance: Float = 1e-5

    func testDequantizationMatchesReferenceForEveryFormat() throws {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "dequantize", withExtension: "json", subdirectory: "Fixtures"))
        let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
        XCTAssertEqual(Set(fixture.cases.map(\.type)), Set(QuantFormats.all.map { $0.name }))
        for c in fixture.cases {
            let format = try XCTUnwrap(QuantFormats.format(typeID: c.typeID), c.type)
            let bytes = try XCTUnwrap(Data(base64Encoded: c.data))
            XCTAssertEqual(bytes.count / format.blockBytes * format.blockElements, c.values.count, c.type)
            var out = [Float](repeating: .nan, count: c.values.count)
            bytes.withUnsafeBytes { raw in
                out.withUnsafeMutableBufferPointer { format.dequantize(row: raw.baseAddress!, count: c.values.count, into: $0.baseAddress!) }
            }
            for (i, (got, want)) in zip(out, c.values).enumerated() {
                let tolerance = Self.relativeTolerance * max(abs(want), 1e-3)
                if abs(got - want) > tolerance {
                    XCTFail("\(c.type) element \(i): \(got) vs reference \(want)")
                    break
                }
            }
        }
    }
}

import GGUF
import Kernels
import XCTest

/// Block layouts pinned by size, and the two type tables (file format and kernels) in agreement.
final class QuantLayoutTests: XCTestCase {
    func testBlockByteSizesArePinned() {
        let expected: [String: (elements: Int, bytes: Int)] = [
            "F32": (1, 4), "F16": (1, 2), "BF16": (1, 2),
            "Q4_0": (32, 18), "Q4_1": (32, 20), "Q5_0": (32, 22), "Q5_1": (32, 24), "Q8_0": (32, 34),
            "Q2_K": (256, 84), "Q3_K": (256, 110), "Q4_K": (256, 144), "Q5_K": (256, 176), "Q6_K": (256, 210),
        ]
        XCTAssertEqual(QuantFormats.all.count, expected.count)
        for format in QuantFormats.all {
            guard let e = expected[format.name] else { XCTFail("unexpected format \(format.name)"); continue }
            XCTAssertEqual(format.blockElements, e.elements, format.name)
            XCTAssertEqual(format.blockBytes, e.bytes, format.name)
        }
    }

    func testKernelFormatsAgreeWithGGUFTypeTable() {
        for type in GGMLType.allCases {
            guard let format = QuantFormats.format(typeID: type.rawValue) else { XCTFail("no kernel format for \(type.name)"); continue }
            XCTAssertEqual(format.name, type.name)
            XCTAssertEqual(format.blockElements, type.blockElements, type.name)
            XCTAssertEqual(format.blockBytes, type.blockBytes, type.name)
        }
        XCTAssertEqual(GGMLType.allCases.count, QuantFormats.all.count)
    }
}

import Foundation
import GGUF
import TestSupport
import XCTest

/// Deliberately broken files, built with the writer: each is refused with an error naming the fault, never a crash.
final class GGUFBrokenFileTests: XCTestCase {
    func write(_ data: Data) throws -> String {
        let p = FileManager.default.temporaryDirectory.appendingPathComponent("broken-\(UUID().uuidString).gguf").path
        try data.write(to: URL(fileURLWithPath: p))
        return p
    }

    func assertRefused(_ data: Data, _ expected: (GGUFError) -> Bool, file: StaticString = #filePath, line: UInt = #line) throws {
        let p = try write(data)
        XCTAssertThrowsError(try GGUFFile(path: p), file: file, line: line) { error in
            guard let e = error as? GGUFError else { return XCTFail("not a GGUFError: \(error)", file: file, line: line) }
            XCTAssertTrue(expected(e), "unexpected error: \(e)", file: file, line: line)
            XCTAssertFalse(e.description.contains("\n"), "message must be one line", file: file, line: line)
        }
    }

    func small() -> GGUFWriter {
        var w = GGUFWriter()
        w.add("general.architecture", .string("llama"))
        w.add("list", .array(elementType: .string, [.string("a"), .string("bc")]))
        w.addTensor("t", dimensions: [8], floats: Array(repeating: 1, count: 8))
        return w
    }

    func testMissingFile() {
        XCTAssertThrowsError(try GGUFFile(path: "/nonexistent/model.gguf")) {
            XCTAssertEqual($0 as? GGUFError, .fileNotFound(path: "/nonexistent/model.gguf"))
            XCTAssertEqual(($0 as? GGUFError)?.description, "model file not found: /nonexistent/model.gguf")
        }
    }

    func testDirectoryIsRefused() {
        XCTAssertThrowsError(try GGUFFile(path: NSTemporaryDirectory())) {
            guard case .unreadable = $0 as? GGUFError else { return XCTFail("\($0)") }
        }
    }

    func testNotGGUF() throws {
        try assertRefused(Data("hello, this is not a model".utf8)) { if case .notGGUF = $0 { return true }; return false }
        try assertRefused(Data()) { if case .notGGUF = $0 { return true }; return false }
    }

    func testUnsupportedVersion() throws {
        var w = small()
        w.version = 7
        try assertRefused(w.data()) { $0 == .unsupportedVersion(7) }
    }

    func testEveryTruncationIsRefused() throws {
        let full = small().data()
        XCTAssertNoThrow(try GGUFFile(path: try write(full)))
        for length in 0 ..< full.count {
            let p = try write(full.prefix(length))
            XCTAssertThrowsError(try GGUFFile(path: p), "prefix of \(length) bytes was accepted")
        }
    }

    func testTensorPastTheEnd() throws {
        var w = GGUFWriter()
        w.addTensor("t", dimensions: [8], floats: Array(repeating: 1, count: 8))
        w.addTensor("u", dimensions: [8], type: .f32, data: Array(repeating: 0, count: 32), offsetOverride: 1 << 20)
        try assertRefused(w.data()) { if case .tensorOutOfBounds(tensor: "u", _, _) = $0 { return true }; return false }
    }

    func testTensorSizeRunningPastTheEnd() throws {
        var w = GGUFWriter()
        // Claims 1,024 floats but stores 8.
        w.addTensor("big", dimensions: [1024], type: .f32, data: Array(repeating: 0, count: 32))
        try assertRefused(w.data()) { if case .tensorOutOfBounds(tensor: "big", _, _) = $0 { return true }; return false }
    }

    func testMisalignedTensor() throws {
        var w = small()
        w.addTensor("odd", dimensions: [1], type: .f32, data: [0, 0, 0, 0], offsetOverride: 4)
        try assertRefused(w.data()) { if case .misalignedTensor(tensor: "odd", _, _) = $0 { return true }; return false }
    }

    func testDuplicateKey() throws {
        var w = small()
        w.add("list", .uint8(1))
        try assertRefused(w.data()) { $0 == .duplicateKey("list") }
    }

    func testDuplicateTensor() throws {
        var w = small()
        w.addTensor("t", dimensions: [8], floats: Array(repeating: 1, count: 8))
        try assertRefused(w.data()) { $0 == .duplicateTensor("t") }
    }

    func testUnsupportedTensorType() throws {
        var w = small()
        w.addTensor("iq", dimensions: [256], typeID: 16, data: Array(repeating: 0, count: 66))
        try assertRefused(w.data()) { $0 == .unsupportedTensorType(tensor: "iq", typeID: 16) }
        XCTAssertEqual(GGUFError.unsupportedTensorType(tensor: "iq", typeID: 16).description,
                       "tensor 'iq' has type IQ2_XXS (id 16), which TokenPress does not support")
        var unknown = small()
        unknown.addTensor("x", dimensions: [4], typeID: 999, data: [])
        try assertRefused(unknown.data()) { $0 == .unsupportedTensorType(tensor: "x", typeID: 999) }
    }

    func testRowNotAWholeNumberOfBlocks() throws {
        var w = small()
        w.addTensor("q", dimensions: [20], type: .q8_0, data: Array(repeating: 0, count: 34))
        try assertRefused(w.data()) { if case .badTensorShape(tensor: "q", _) = $0 { return true }; return false }
    }

    func testInvalidAlignment() throws {
        var w = small()
        w.add(GGUFKey.alignment, .uint32(3))
        try assertRefused(w.data()) { $0 == .invalidAlignment(3) }
    }

    func testUnknownValueType() throws {
        var data = small().data()
        // The first key's type id follows the magic, version, counts (24 bytes) and the key string.
        let typeOffset = 24 + 8 + "general.architecture".utf8.count
        data[typeOffset] = 42
        try assertRefused(data) { $0 == .invalidValueType(key: "general.architecture", typeID: 42) }
    }

    func testHugeCountsAreRefusedWithoutAllocating() throws {
        var data = small().data()
        for i in 8 ..< 16 { data[i] = 0xFF }  // tensor count = 2^64 − 1
        try assertRefused(data) { if case .truncated = $0 { return true }; return false }
    }

    func testWrongMetadataTypeIsNamed() throws {
        let file = try GGUFFile(path: try write(small().data()))
        XCTAssertThrowsError(try file.int("general.architecture")) {
            XCTAssertEqual(($0 as? GGUFError)?.description, "GGUF metadata key 'general.architecture' should be an integer but is string")
        }
        XCTAssertThrowsError(try file.string("absent")) { XCTAssertEqual($0 as? GGUFError, .missingKey("absent")) }
    }
}

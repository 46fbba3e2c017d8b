import Foundation
import GGUF
import TestSupport
import XCTest

/// The writer and the reader agree on every metadata type, nested arrays, tensors and alignment.
final class GGUFRoundTripTests: XCTestCase {
    func path() -> String { FileManager.default.temporaryDirectory.appendingPathComponent("rt-\(UUID().uuidString).gguf").path }

    func testEveryMetadataTypeRoundTrips() throws {
        var w = GGUFWriter()
        let values: [(String, GGUFValue)] = [
            ("u8", .uint8(200)), ("i8", .int8(-100)), ("u16", .uint16(60_000)), ("i16", .int16(-30_000)),
            ("u32", .uint32(4_000_000_000)), ("i32", .int32(-2_000_000_000)), ("u64", .uint64(1 << 60)), ("i64", .int64(-(1 << 60))),
            ("f32", .float32(3.25)), ("f64", .float64(-1e300)), ("bool", .bool(true)), ("string", .string("héllo 🌍")),
            ("empty", .array(elementType: .string, [])),
            ("nested", .array(elementType: .array, [.array(elementType: .int32, [.int32(1), .int32(2)]), .array(elementType: .int32, [])])),
            ("floats", .array(elementType: .float32, [.float32(1), .float32(-2.5)])),
        ]
        for (k, v) in values { w.add(k, v) }
        w.addTensor("weights", dimensions: [4, 2], floats: [1, 2, 3, 4, 5, 6, 7, 8])
        w.addTensor("half", dimensions: [2], type: .f16, data: [0x00, 0x3C, 0x00, 0xC0])
        let p = path()
        try w.write(to: p)
        let file = try GGUFFile(path: p)
        XCTAssertEqual(file.version, 3)
        XCTAssertEqual(file.metadataKeys, values.map(\.0))
        for (k, v) in values { XCTAssertEqual(file.metadata[k], v, k) }
        XCTAssertEqual(try file.int("u64"), 1 << 60)
        XCTAssertEqual(try file.string("string"), "héllo 🌍")
        XCTAssertEqual(try file.floatArray("floats"), [1, -2.5])
        let info = try XCTUnwrap(file.tensorInfo("weights"))
        XCTAssertEqual(info.dimensions, [4, 2])
        XCTAssertEqual(info.byteCount, 32)
        XCTAssertEqual(info.fileOffset % file.alignment, 0)
        let data = file.tensorData(info)
        XCTAssertEqual(Array(data.bindMemory(to: Float.self)), [1, 2, 3, 4, 5, 6, 7, 8])
        XCTAssertEqual(Array(file.tensorData(try XCTUnwrap(file.tensorInfo("half")))), [0x00, 0x3C, 0x00, 0xC0])
    }

    func testCustomAlignmentAndVersion2() throws {
        var w = GGUFWriter()
        w.version = 2
        w.alignment = 64
        w.add(GGUFKey.alignment, .uint32(64))
        w.addTensor("a", dimensions: [3], floats: [1, 2, 3])
        w.addTensor("b", dimensions: [1], floats: [4])
        let p = path()
        try w.write(to: p)
        let file = try GGUFFile(path: p)
        XCTAssertEqual(file.version, 2)
        XCTAssertEqual(file.alignment, 64)
        for t in file.tensors { XCTAssertEqual(t.fileOffset % 64, 0, t.name) }
        XCTAssertEqual(Array(file.tensorData(try XCTUnwrap(file.tensorInfo("b"))).bindMemory(to: Float.self)), [4])
    }

    func testTinyModelFileParses() throws {
        let file = try GGUFFile(path: try TinyModel().write())
        XCTAssertEqual(try file.string(GGUFKey.architecture), "llama")
        XCTAssertEqual(try file.stringArray(GGUFKey.Tokenizer.tokens).count, TinyModel().vocabularySize)
        XCTAssertNotNil(file.tensorInfo(GGUFTensorName.feedForwardDown(1)))
    }
}

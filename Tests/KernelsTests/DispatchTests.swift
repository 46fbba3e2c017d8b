import Kernels
import XCTest

/// The AVX2 C kernels against the portable Swift kernels: bit-identical results.
final class DispatchTests: XCTestCase {
    func requireAVX2() throws {
        try XCTSkipUnless(KernelDispatch.cpuHasAVX2, "this CPU has no AVX2: only the portable path exists")
    }

    func withPortable<T>(_ portable: Bool, _ body: () throws -> T) rethrows -> T {
        let saved = KernelDispatch.forcePortable
        KernelDispatch.forcePortable = portable
        defer { KernelDispatch.forcePortable = saved }
        return try body()
    }

    /// Several matrices in one job (query, key and value; gate and up) write exactly what one multiply each
    /// writes, on both paths, also when their formats differ (then they run one after another).
    func testFusedMatricesEqualSeparateMultiplies() throws {
        var generator = SplitMix(seed: 14)
        let blocks = 5, tokens = 3
        let shapes: [(format: any Q8DotFormat.Type, rows: Int)] = [(BlockQ4_1.self, 45), (BlockQ4_1.self, 17),
                                                                    (BlockQ4_1.self, 16), (BlockQ8_0.self, 9)]
        // Weights in memory that outlives every multiply (as a mapped file's does).
        let storage = shapes.map { shape -> UnsafeMutableRawBufferPointer in
            let bytes = (0 ..< shape.rows).flatMap { _ in
                DotKernelTests.randomRow(shape.format, blocks: blocks, generator: &generator)
            }
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 32)
            buffer.copyBytes(from: bytes)
            return buffer
        }
        defer { storage.forEach { $0.deallocate() } }
        let matrices = shapes.indices.map { i in
            WeightMatrix(format: shapes[i].format, rows: shapes[i].rows, columns: blocks * 32,
                         data: UnsafeRawPointer(storage[i].baseAddress!))
        }
        let input = (0 ..< tokens * blocks * 32).map { _ in Float(Int(generator.next() % 2001) - 1000) / 300 }
        for portable in [false, true] {
            for chosen in [[0, 1, 2], [0, 3], [1]] {
                let group = chosen.map { matrices[$0] }
                let outputs = group.map { UnsafeMutablePointer<Float>.allocate(capacity: tokens * $0.rows) }
                defer { outputs.forEach { $0.deallocate() } }
                var separate: [[Float]] = []
                withPortable(portable) {
                    input.withUnsafeBufferPointer { x in
                        for matrix in group {
                            var out = [Float](repeating: 0, count: tokens * matrix.rows)
                            out.withUnsafeMutableBufferPointer {
                                MatMul().multiply(matrix, input: x.baseAddress!, tokens: tokens, output: $0.baseAddress!)
                            }
                            separate.append(out)
                        }
                        MatMul().multiply(group, input: x.baseAddress!, tokens: tokens, outputs: outputs)
                    }
                }
                let fused = zip(group, outputs).map { matrix, output in
                    Array(UnsafeBufferPointer(start: output, count: tokens * matrix.rows))
                }
                XCTAssertEqual(fused.map { $0.map(\.bitPattern) }, separate.map { $0.map(\.bitPattern) },
                               "\(chosen) portable: \(portable)")
            }
        }
    }

    func testMatMulAVX2EqualsPortable() throws {
        try requireAVX2()
        var generator = SplitMix(seed: 11)
        for format in DotKernelTests.formats {
            let rows = 45, blocks = 7, tokens = 37  // 37: two full 16-token tiles (2×4 micro-kernel) and a remainder
            let data = (0 ..< rows).flatMap { _ in DotKernelTests.randomRow(format, blocks: blocks, generator: &generator) }
            let input = (0 ..< tokens * blocks * 32).map { _ in Float(Int(generator.next() % 2001) - 1000) / 300 }
            func run(portable: Bool) -> [Float] {
                withPortable(portable) {
                    var out = [Float](repeating: 0, count: tokens * rows)
                    data.withUnsafeBytes { raw in
                        let matrix = WeightMatrix(format: format, rows: rows, columns: blocks * 32, data: raw.baseAddress!)
                        input.withUnsafeBufferPointer { x in
                            out.withUnsafeMutableBufferPointer { MatMul().multiply(matrix, input: x.baseAddress!, tokens: tokens, output: $0.baseAddress!) }
                        }
                    }
                    return out
                }
            }
            XCTAssertEqual(run(portable: false).map(\.bitPattern), run(portable: true).map(\.bitPattern), format.name)
        }
    }

    func testSoftmaxAndSwiGLUAVX2EqualPortable() throws {
        try requireAVX2()
        var generator = SplitMix(seed: 12)
        // 16 and 4,103: the maximum's vector loop whole and with a tail; masked cells (−∞) among the logits.
        for count in [1, 7, 8, 16, 37, 256, 1001, 4103] {
            let x = (0 ..< count).map { _ in Float(Int(generator.next() % 40001) - 20000) / 400 }
            var masked = x
            for i in stride(from: 3, to: count, by: 97) { masked[i] = -.infinity }
            var fast = masked, slow = masked
            withPortable(false) { fast.withUnsafeMutableBufferPointer { Softmax.apply($0.baseAddress!, count: count, scale: 0.125) } }
            withPortable(true) { slow.withUnsafeMutableBufferPointer { Softmax.apply($0.baseAddress!, count: count, scale: 0.125) } }
            XCTAssertEqual(fast.map(\.bitPattern), slow.map(\.bitPattern), "softmax of \(count)")

            let up = (0 ..< count).map { _ in Float(Int(generator.next() % 2001) - 1000) / 100 }
            var gateFast = x, gateSlow = x
            withPortable(false) { gateFast.withUnsafeMutableBufferPointer { SwiGLU.apply(gate: $0.baseAddress!, up: up, count: count) } }
            withPortable(true) { gateSlow.withUnsafeMutableBufferPointer { SwiGLU.apply(gate: $0.baseAddress!, up: up, count: count) } }
            // The AVX2 kernel finishes a partial chunk of 8 with libm's expf, as llama.cpp's scalar tail does.
            let whole = count / 8 * 8
            XCTAssertEqual(gateFast.prefix(whole).map(\.bitPattern), gateSlow.prefix(whole).map(\.bitPattern), "swiglu of \(count)")
            for i in whole ..< count { XCTAssertEqual(gateFast[i], gateSlow[i], accuracy: abs(gateSlow[i]) * 1e-6 + 1e-30) }
        }
    }

    func testKQuantAVX2MatchesPortableDequantizePath() throws {
        try requireAVX2()
        var generator = SplitMix(seed: 13)
        let formats: [any QuantFormat.Type] = [BlockQ4_K.self, BlockQ5_K.self, BlockQ6_K.self]
        for format in formats {
            let rows = 9, columns = 512, tokens = 5
            var data = (0 ..< rows * columns / 256 * format.blockBytes).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            // Sane f16 scales at each format's offsets (d, dmin for Q4_K/Q5_K at 0 and 2; d at 208 for Q6_K).
            let offsets = format.typeID == 14 ? [208] : [0, 2]
            for block in 0 ..< rows * columns / 256 {
                for o in offsets {
                    let h = Float16(Float(generator.next() % 1000) / 100_000).bitPattern
                    data[block * format.blockBytes + o] = UInt8(h & 0xFF)
                    data[block * format.blockBytes + o + 1] = UInt8(h >> 8)
                }
            }
            let input = (0 ..< tokens * columns).map { _ in Float(Int(generator.next() % 2001) - 1000) / 500 }
            func run(portable: Bool) -> [Float] {
                withPortable(portable) {
                    var out = [Float](repeating: 0, count: tokens * rows)
                    data.withUnsafeBytes { raw in
                        let matrix = WeightMatrix(format: format, rows: rows, columns: columns, data: raw.baseAddress!)
                        input.withUnsafeBufferPointer { x in
                            out.withUnsafeMutableBufferPointer { MatMul().multiply(matrix, input: x.baseAddress!, tokens: tokens, output: $0.baseAddress!) }
                        }
                    }
                    return out
                }
            }
            let fast = run(portable: false), slow = run(portable: true)
            // Same decoded weights up to a fused multiply-subtract, summed in another order: float rounding only.
            for (a, b) in zip(fast, slow) { XCTAssertEqual(a, b, accuracy: max(abs(b), 1) * 2e-5, format.name) }
        }
    }
}

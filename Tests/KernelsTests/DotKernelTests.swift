import Kernels
import Sampling
import XCTest

/// The vectorized integer dot kernels against their scalar twins (bit-identical by construction: same lanes,
/// same order) and against a float reference (within the 8-bit activation quantization error).
final class DotKernelTests: XCTestCase {
    static let formats: [any Q8DotFormat.Type] = [BlockQ4_0.self, BlockQ4_1.self, BlockQ5_0.self, BlockQ5_1.self, BlockQ8_0.self]

    /// Random blocks with sane f16 scales (and minima) at their known offsets.
    static func randomRow(_ format: any Q8DotFormat.Type, blocks: Int, generator: inout SplitMix) -> [UInt8] {
        var bytes = (0 ..< blocks * format.blockBytes).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        let halfOffsets: [Int] = format.needsActivationSums ? [0, 2] : [0]
        for b in 0 ..< blocks {
            for offset in halfOffsets {
                let value = Float16(Float(generator.next() % 2000) / 100_000 - 0.01)
                withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes[b * format.blockBytes + offset] = $0[0]; bytes[b * format.blockBytes + offset + 1] = $0[1] }
            }
        }
        return bytes
    }

    func testVectorizedDotsEqualScalarTwinsBitForBit() {
        var generator = SplitMix(seed: 1)
        for format in Self.formats {
            for blocks in [1, 3, 18, 48] {
                let row = Self.randomRow(format, blocks: blocks, generator: &generator)
                let input = (0 ..< blocks * 32).map { _ in Float(Int(generator.next() % 2001) - 1000) / 250 }
                let activations = Q8Activations()
                input.withUnsafeBufferPointer { activations.quantize($0.baseAddress!, rows: 1, rowLength: blocks * 32) }
                row.withUnsafeBytes { raw in
                    let fast = format.dot(row: raw.baseAddress!, activations: activations.row(0), blocks: blocks)
                    let slow = format.dotScalar(row: raw.baseAddress!, activations: activations.row(0), blocks: blocks)
                    XCTAssertEqual(fast.bitPattern, slow.bitPattern, "\(format.name) × \(blocks) blocks: \(fast) vs \(slow)")
                }
            }
        }
    }

    func testDotsAgreeWithFloatReference() {
        var generator = SplitMix(seed: 2)
        for format in Self.formats {
            let blocks = 24
            let row = Self.randomRow(format, blocks: blocks, generator: &generator)
            let input = (0 ..< blocks * 32).map { _ in Float(Int(generator.next() % 2001) - 1000) / 250 }
            var weights = [Float](repeating: 0, count: blocks * 32)
            row.withUnsafeBytes { raw in weights.withUnsafeMutableBufferPointer { format.dequantize(row: raw.baseAddress!, count: blocks * 32, into: $0.baseAddress!) } }
            let reference = zip(weights, input).reduce(0) { $0 + Double($1.0) * Double($1.1) }
            let magnitude = zip(weights, input).reduce(0) { $0 + abs(Double($1.0) * Double($1.1)) }
            let activations = Q8Activations()
            input.withUnsafeBufferPointer { activations.quantize($0.baseAddress!, rows: 1, rowLength: blocks * 32) }
            let got = row.withUnsafeBytes { format.dot(row: $0.baseAddress!, activations: activations.row(0), blocks: blocks) }
            // 8-bit activations: each term is off by at most half a quantization step (1/254 of the block's max).
            XCTAssertEqual(Double(got), reference, accuracy: magnitude / 127 + 1e-4, format.name)
        }
    }

    func testActivationQuantizationRoundTrips() {
        let input: [Float] = (0 ..< 64).map { Float($0 - 31) * 0.37 }
        let activations = Q8Activations()
        input.withUnsafeBufferPointer { activations.quantize($0.baseAddress!, rows: 1, rowLength: 64) }
        let row = activations.row(0)
        for i in 0 ..< 64 {
            let scale = row.scales[i / 32]
            // Half a step of rounding, plus the scale's own rounding to f16 (2⁻¹¹ relative, over up to 127 steps).
            XCTAssertEqual(Float(row.quants[i]) * scale, input[i], accuracy: scale * (0.5 + 127 * 0x1p-11))
        }
        // The largest magnitude of each block maps to ±127.
        XCTAssertEqual(abs(Int(row.quants[0])), 127)
        XCTAssertEqual(row.sums[0], Float(Float16(row.scales[0] * Float((0 ..< 32).reduce(0) { $0 + Int(row.quants[$1]) }))), accuracy: 1e-3)
    }

    /// Rows of 6 blocks (weights) and of 2 and 4 blocks (an attention head's keys, which the AVX2 kernel reduces
    /// eight rows at a time): 37 rows leave a remainder after every batch size.
    func testMatMulScalarPathEqualsVectorizedPath() {
        var generator = SplitMix(seed: 3)
        for format in Self.formats {
            for blocks in [2, 4, 6] {
                let rows = 37
                let data = (0 ..< rows).flatMap { _ in Self.randomRow(format, blocks: blocks, generator: &generator) }
                let input = (0 ..< 3 * blocks * 32).map { _ in Float(Int(generator.next() % 2001) - 1000) / 300 }
                var fast = [Float](repeating: 0, count: 3 * rows), slow = fast
                data.withUnsafeBytes { raw in
                    let matrix = WeightMatrix(format: format, rows: rows, columns: blocks * 32, data: raw.baseAddress!)
                    let matmul = MatMul()
                    input.withUnsafeBufferPointer { x in
                        fast.withUnsafeMutableBufferPointer {
                            matmul.multiply(matrix, input: x.baseAddress!, tokens: 3, output: $0.baseAddress!)
                        }
                        matmul.useScalarKernels = true
                        slow.withUnsafeMutableBufferPointer {
                            matmul.multiply(matrix, input: x.baseAddress!, tokens: 3, output: $0.baseAddress!)
                        }
                    }
                }
                XCTAssertEqual(fast.map(\.bitPattern), slow.map(\.bitPattern), "\(format.name) × \(blocks) blocks")
            }
        }
    }

    /// Batches of 8 tokens or more on a CPU with AVX-512 VNNI take the 512-bit tiles (two tokens per register,
    /// codes offset to unsigned for vpdpbusd): the same bits as the AVX2 tiles and the portable twin, for every
    /// Q8-dot format, rows that fill 4-row blocks or not, and token counts that fill 16- or 8-token tiles or not
    /// (8 and 12: a server's batch of sequences; 4: the AVX2 tiles' groups of four alone).
    func testAVX512TilesGiveTheAVX2Bits() throws {
        try XCTSkipUnless(KernelDispatch.useAVX2 && KernelDispatch.cpuHasAVX512, "this CPU has no AVX-512 VNNI")
        defer { KernelDispatch.allowAVX512 = true }
        var generator = SplitMix(seed: 11)
        for format in Self.formats {
            for (blocks, tokens) in [(2, 16), (8, 21), (3, 35), (4, 8), (5, 12), (2, 4), (3, 7)] {
                let rows = 37
                let data = (0 ..< rows).flatMap { _ in Self.randomRow(format, blocks: blocks, generator: &generator) }
                let input = (0 ..< tokens * blocks * 32).map { _ in Float(Int(generator.next() % 2001) - 1000) / 300 }
                var results: [[UInt32]] = []
                for (avx512, scalar) in [(true, false), (false, false), (false, true)] {
                    KernelDispatch.allowAVX512 = avx512
                    var out = [Float](repeating: .nan, count: tokens * rows)
                    data.withUnsafeBytes { raw in
                        let matrix = WeightMatrix(format: format, rows: rows, columns: blocks * 32, data: raw.baseAddress!)
                        let matmul = MatMul()
                        matmul.useScalarKernels = scalar
                        input.withUnsafeBufferPointer { x in
                            out.withUnsafeMutableBufferPointer {
                                matmul.multiply(matrix, input: x.baseAddress!, tokens: tokens, output: $0.baseAddress!)
                            }
                        }
                    }
                    results.append(out.map(\.bitPattern))
                }
                let label = "\(format.name), \(blocks) blocks, \(tokens) tokens"
                XCTAssertEqual(results[0], results[1], "AVX-512 against AVX2: " + label)
                XCTAssertEqual(results[1], results[2], "AVX2 against portable: " + label)
            }
        }
    }

    /// The trap-free rounding used to quantize activations equals the library's round-half-even over the range
    /// quantized values take (|y| ≤ 127, and a margin): every 16th float, and every tie k + ½ with its neighbours.
    func testActivationRoundingIsRoundHalfEven() {
        var mismatches: [Float] = []
        func check(_ y: Float) {
            if Q8Activations.roundedToInt32(y) != Int32(y.rounded(.toNearestOrEven)) { mismatches.append(y) }
        }
        let limit = Float(130).bitPattern
        for bits in stride(from: UInt32(0), through: limit, by: 16) {
            check(Float(bitPattern: bits))
            check(-Float(bitPattern: bits))
        }
        for tie in stride(from: Float(-129.5), through: 129.5, by: 1) {
            check(tie)
            check(tie.nextUp)
            check(tie.nextDown)
        }
        XCTAssertEqual(mismatches, [])
    }
}

/// Deterministic test data.
typealias SplitMix = SeededGenerator

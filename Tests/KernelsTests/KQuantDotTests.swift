import Kernels
import Sampling
import XCTest

/// Q4_K, Q5_K and Q6_K rows on Q8_K activations: the AVX2 kernel against its portable twin (bit for bit) and both against
/// a float reference (within the 8-bit activation error).
final class KQuantDotTests: XCTestCase {
    static var formats: [any QuantFormat.Type] { [BlockQ4_K.self, BlockQ5_K.self, BlockQ6_K.self] }

    /// Random blocks with sane f16 scales at their offsets (Q4_K, Q5_K: d and dmin first; Q6_K: d last).
    static func randomRows(_ format: any QuantFormat.Type, rows: Int, blocks: Int, generator: inout SplitMix) -> [UInt8] {
        let blockBytes = format.blockBytes
        var bytes = (0 ..< rows * blocks * blockBytes).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        let halfOffsets = format == BlockQ6_K.self ? [208] : [0, 2]
        for b in 0 ..< rows * blocks {
            for offset in halfOffsets {
                let value = Float16(Float(generator.next() % 2000) / 200_000 + 0.0001)
                let bits = value.bitPattern
                bytes[b * blockBytes + offset] = UInt8(bits & 0xFF)
                bytes[b * blockBytes + offset + 1] = UInt8(bits >> 8)
            }
        }
        return bytes
    }

    static func multiply(_ format: any QuantFormat.Type, bytes: [UInt8], rows: Int, columns: Int, input: [Float],
                         tokens: Int, scalar: Bool) -> [Float] {
        var output = [Float](repeating: .nan, count: tokens * rows)
        bytes.withUnsafeBytes { raw in
            let weights = WeightMatrix(format: format, rows: rows, columns: columns, data: raw.baseAddress!)
            let matmul = MatMul()
            matmul.useScalarKernels = scalar
            input.withUnsafeBufferPointer { x in
                output.withUnsafeMutableBufferPointer {
                    matmul.multiply(weights, input: x.baseAddress!, tokens: tokens, output: $0.baseAddress!)
                }
            }
        }
        return output
    }

    func testVectorizedKernelEqualsPortableTwinBitForBit() throws {
        try XCTSkipUnless(KernelDispatch.useAVX2, "this CPU runs the portable path only")
        var generator = SplitMix(seed: 3)
        for format in Self.formats {
            // 9, 19 and 24 tokens reach the AVX-512 groups of eight where the CPU has them; both tile kinds are checked.
            for (blocks, tokens) in [(1, 1), (3, 2), (8, 5), (2, 9), (3, 19), (1, 24)] {
                let rows = 12
                let bytes = Self.randomRows(format, rows: rows, blocks: blocks, generator: &generator)
                let input = (0 ..< tokens * blocks * 256).map { _ in Float(Int(generator.next() % 2001) - 1000) / 250 }
                let slow = Self.multiply(format, bytes: bytes, rows: rows, columns: blocks * 256, input: input, tokens: tokens,
                                         scalar: true)
                for avx512 in [true, false] {
                    KernelDispatch.allowAVX512 = avx512
                    defer { KernelDispatch.allowAVX512 = true }
                    let fast = Self.multiply(format, bytes: bytes, rows: rows, columns: blocks * 256, input: input,
                                             tokens: tokens, scalar: false)
                    let label = "\(format.name), \(blocks) blocks, \(tokens) tokens, AVX-512 allowed: \(avx512)"
                    XCTAssertEqual(fast.map(\.bitPattern), slow.map(\.bitPattern), label)
                }
            }
        }
    }

    func testIntegerDotsAgreeWithTheDequantizedRows() {
        var generator = SplitMix(seed: 4)
        for format in Self.formats {
            for scalar in [false, true] {
                let (rows, blocks) = (6, 4)
                let columns = blocks * 256
                let bytes = Self.randomRows(format, rows: rows, blocks: blocks, generator: &generator)
                let input = (0 ..< columns).map { _ in Float(Int(generator.next() % 2001) - 1000) / 250 }
                let got = Self.multiply(format, bytes: bytes, rows: rows, columns: columns, input: input, tokens: 1, scalar: scalar)
                bytes.withUnsafeBytes { raw in
                    let weights = WeightMatrix(format: format, rows: rows, columns: columns, data: raw.baseAddress!)
                    var row = [Float](repeating: 0, count: columns)
                    for r in 0 ..< rows {
                        row.withUnsafeMutableBufferPointer { weights.dequantizeRow(r, into: $0.baseAddress!) }
                        let exact = zip(row, input).reduce(Double(0)) { $0 + Double($1.0) * Double($1.1) }
                        let magnitude = zip(row, input).reduce(Double(0)) { $0 + abs(Double($1.0) * Double($1.1)) }
                        // 8-bit activations: each product off by at most half a quantization step of its block.
                        XCTAssertEqual(Double(got[r]), exact, accuracy: magnitude * 0.01 + 1e-6, "\(format.name) row \(r)")
                    }
                }
            }
        }
    }

    func testQ8KQuantizationMapsTheLargestMagnitudeToMinus127() {
        var values = (0 ..< 512).map { Float($0 % 37) / 10 - 1.5 }
        values[300] = 9.5  // the second block's largest magnitude, positive: d becomes negative
        values[10] = -7    // the first block's, negative: d positive
        let activations = Q8KActivations()
        values.withUnsafeBufferPointer { activations.quantize($0.baseAddress!, rows: 1, rowLength: 512) }
        XCTAssertEqual(activations.quants[10], -127)
        XCTAssertEqual(activations.scales[0], 7 / 127, accuracy: 1e-7)
        XCTAssertEqual(activations.quants[300], -127)
        XCTAssertEqual(activations.scales[1], -9.5 / 127, accuracy: 1e-7)
        for i in 0 ..< 512 {
            let restored = Float(activations.quants[i]) * activations.scales[i / 256]
            XCTAssertEqual(restored, values[i], accuracy: abs(activations.scales[i / 256]) / 2 + 1e-6)
        }
        for group in 0 ..< 32 {
            let total = (0 ..< 16).reduce(0) { $0 + Int(activations.quants[group * 16 + $1]) }
            XCTAssertEqual(Int(activations.sums[group]), total)
        }
    }
}

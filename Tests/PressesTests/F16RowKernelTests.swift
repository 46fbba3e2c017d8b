@testable import KVCache
import Kernels
import Sampling
import XCTest

/// The f16 row kernels of decode (one query, `.vectorDot` order) against their portable twins, bit for bit, at row
/// counts on both sides of the value sums' 128-row tiles (whole tiles, a partial one, none) and at the head sizes
/// of the supported models, one query at a time and grouped over channel runs.
final class F16RowKernelTests: XCTestCase {
    static let rowCounts = [0, 1, 31, 127, 128, 129, 300, 515]

    static func halves(_ count: Int, seed: UInt64) -> [Float16] {
        var generator = SeededGenerator(seed: seed)
        return (0 ..< count).map { i in Float16(Float.random(in: -2 ... 2, using: &generator) * (i % 16 == 3 ? 8 : 1)) }
    }

    /// Softmax-like weights: positive, spread over several decades, so rounding to f16 matters.
    static func weights(_ count: Int, seed: UInt64) -> [Float] {
        var generator = SeededGenerator(seed: seed)
        return (0 ..< count).map { _ in
            let share = Float.random(in: 0 ... 1, using: &generator)
            return share * Float.random(in: 0 ... 1e-2, using: &generator)
        }
    }

    func testValueSumsEqualThePortableTwinAcrossTiles() throws {
        try XCTSkipUnless(KernelDispatch.useAVX2, "no AVX2 on this CPU: only the portable twin runs")
        for d in [64, 128, 256] {
            for count in Self.rowCounts {
                let rows = Self.halves(max(1, count) * d, seed: UInt64(d + count))
                let weights = Self.weights(max(1, count), seed: UInt64(7 * d + count))
                var outputs: [[Float]] = []
                for kernel in [AttentionKernel.avx2, .portable] {
                    var lanes = [Float](repeating: .nan, count: 32 * d)
                    var scratch = [Float](repeating: 0, count: d)
                    var output = [Float](repeating: .nan, count: d)
                    rows.withUnsafeBufferPointer { r in
                        F16Rows.weightedSum(weights: weights, rows: r.baseAddress!, count: count, dimension: d,
                                            order: .vectorDot, kernel: kernel, lanes: &lanes, scratch: &scratch,
                                            into: &output)
                    }
                    outputs.append(output)
                }
                XCTAssertEqual(outputs[0], outputs[1], "d \(d), \(count) rows")
                if count == 0 { XCTAssertEqual(outputs[0], [Float](repeating: 0, count: d)) }
            }
        }
    }

    func testGroupedValueSumsEqualThePortableTwinForEveryChannelRun() throws {
        try XCTSkipUnless(KernelDispatch.useAVX2, "no AVX2 on this CPU: only the portable twin runs")
        let d = 64
        for count in Self.rowCounts where count > 0 {
            let rows = Self.halves(count * d, seed: UInt64(count))
            for queries in 1 ... 3 {
                let weights = Self.weights(queries * count, seed: UInt64(31 * count + queries))
                // A whole head, the two 64-byte halves GroupedDecodeAttention splits it into, and one 8-wide run.
                for channels in [0 ..< 64, 0 ..< 32, 32 ..< 64, 8 ..< 16] {
                    var outputs: [[Float]] = []
                    for kernel in [AttentionKernel.avx2, .portable] {
                        var scratch = [Float](repeating: .nan, count: (32 * queries + 1) * d)
                        var output = [Float](repeating: -1, count: queries * d)
                        rows.withUnsafeBufferPointer { r in
                            F16Rows.groupWeightedSum(weights: weights, stride: count, queryCount: queries,
                                                     rows: r.baseAddress!, count: count, channels: channels,
                                                     dimension: d, kernel: kernel, scratch: &scratch, into: &output)
                        }
                        outputs.append(output)
                    }
                    XCTAssertEqual(outputs[0], outputs[1], "\(count) rows, \(queries) queries, channels \(channels)")
                    // Channels outside the run are left alone.
                    XCTAssertEqual(outputs[0].enumerated().filter { !channels.contains($0.offset % d) }.map(\.element),
                                   [Float](repeating: -1, count: queries * (d - channels.count)))
                }
            }
        }
    }

    func testGroupedLogitsEqualThePortableTwin() throws {
        try XCTSkipUnless(KernelDispatch.useAVX2, "no AVX2 on this CPU: only the portable twin runs")
        for d in [64, 128] {
            for count in Self.rowCounts where count > 0 {
                let keys = Self.halves(count * d, seed: UInt64(3 * d + count))
                let queries = Self.halves(3 * d, seed: UInt64(d)).map { Float($0) }
                var outputs: [[Float]] = []
                for kernel in [AttentionKernel.avx2, .portable] {
                    var scratch = [Float](repeating: 0, count: d)
                    var logits = [Float](repeating: .nan, count: 3 * count)
                    keys.withUnsafeBufferPointer { k in
                        F16Rows.groupLogits(queries: queries, queryCount: 3, rows: k.baseAddress!, count: count,
                                            dimension: d, kernel: kernel, scratch: &scratch, into: &logits,
                                            stride: count)
                    }
                    outputs.append(logits)
                }
                XCTAssertEqual(outputs[0], outputs[1], "d \(d), \(count) rows")
            }
        }
    }
}

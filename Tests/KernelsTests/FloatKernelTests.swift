import Foundation
import Kernels
import XCTest

/// Float kernels: vectorized versions against scalar twins, approximations against libm, invariants.
final class FloatKernelTests: XCTestCase {
    func testHalfToFloatConversionMatchesScalarForEveryBitPattern() {
        let halves = (0 ... UInt16.max).map { Float16(bitPattern: $0) }
        var fast = [Float](repeating: 0, count: halves.count), slow = fast
        halves.withUnsafeBufferPointer { h in
            fast.withUnsafeMutableBufferPointer { HalfConversion.toFloat(h.baseAddress!, $0.baseAddress!, count: h.count) }
            slow.withUnsafeMutableBufferPointer { HalfConversion.toFloatScalar(h.baseAddress!, $0.baseAddress!, count: h.count) }
        }
        for i in halves.indices where fast[i].bitPattern != slow[i].bitPattern && !(fast[i].isNaN && slow[i].isNaN) {
            XCTFail("f16 bits \(String(i, radix: 16)): \(fast[i]) vs \(slow[i])")
            return
        }
    }

    func testVectorDotMatchesScalarTwin() {
        let a = (0 ..< 203).map { Float(sin(Double($0))) }, b = (0 ..< 203).map { Float(cos(Double($0) * 0.7)) }
        let fast = VectorMath.dot(a, b, count: a.count), slow = VectorMath.dotScalar(a, b, count: a.count)
        XCTAssertEqual(fast, slow, accuracy: 1e-4)  // summation order differs; named tolerance for 203 terms of magnitude ≤ 1
    }

    func testArgmaxOfDotsByColumnsIsTheArgmaxOfDot() {
        var generator = SystemRandomNumberGenerator()
        for d in [8, 16, 64, 70] {
            for rows in [1, 15, 16, 37] {
                var matrix = (0 ..< rows * d).map { _ in Float.random(in: -1 ... 1, using: &generator) }
                // Row 2 repeats row 1 where there is one: a tie goes to the first. Row 1 is stretched to norm
                // 2√d, past every other row's (≤ √d), so by Cauchy–Schwarz no other row beats it on its own vector.
                if rows > 2 {
                    let norm = (0 ..< d).reduce(Float(0)) { $0 + matrix[d + $1] * matrix[d + $1] }.squareRoot()
                    let stretch = 2 * Float(d).squareRoot() / max(norm, 1e-3)
                    for i in 0 ..< d { matrix[d + i] *= stretch }
                    for i in 0 ..< d { matrix[2 * d + i] = matrix[d + i] }
                }
                let stride = (rows + 15) / 16 * 16
                var columns = [Float](repeating: 0, count: d * stride)
                for r in 0 ..< rows { for i in 0 ..< d { columns[i * stride + r] = matrix[r * d + i] } }
                let count = 9
                var vectors = (0 ..< count * d).map { _ in Float.random(in: -1 ... 1, using: &generator) }
                if rows > 2 { for i in 0 ..< d { vectors[i] = matrix[d + i] } }  // nearest: rows 1 and 2, equal
                var best = [Int](repeating: -1, count: count)
                best.withUnsafeMutableBufferPointer {
                    VectorMath.argmaxDotsByColumns(vectors, count: count, columns: columns, stride: stride, rows: rows,
                                                   dimension: d, into: $0.baseAddress!)
                }
                for v in 0 ..< count {
                    var want = 0, wantValue = -Float.infinity
                    for r in 0 ..< rows {
                        let value = VectorMath.dot(Array(matrix[r * d ..< (r + 1) * d]), Array(vectors[v * d ..< (v + 1) * d]),
                                                   count: d)
                        if value > wantValue { wantValue = value; want = r }
                    }
                    XCTAssertEqual(best[v], want, "d \(d), rows \(rows), vector \(v)")
                }
                if rows > 2 { XCTAssertEqual(best[0], 1, "a tie goes to the first row (d \(d))") }
            }
        }
    }

    /// The AVX2 kernel against its portable twin where only the summation order decides: rows that are
    /// permutations of one row, against vectors of one repeated value, have equal dots in exact arithmetic, so the
    /// winner is whichever order rounds highest (and ties go to the first) — another order or a fused multiply-add
    /// picks other rows. Random rows and vectors as well, at head sizes with and without a tail past 16.
    func testArgmaxOfDotsByColumnsKernelPicksThePortableTwinsRows() throws {
        try XCTSkipUnless(KernelDispatch.useAVX2, "no AVX2 on this CPU")
        var generator = SystemRandomNumberGenerator()
        for d in [8, 16, 64, 70, 256] {
            for rows in [1, 17, 300] {
                let base = (0 ..< d).map { _ in Float.random(in: -1 ... 1, using: &generator) }
                var matrix: [Float] = []
                for r in 0 ..< rows {
                    matrix += r % 3 == 2 ? (0 ..< d).map { _ in Float.random(in: -1 ... 1, using: &generator) }
                        : base.shuffled(using: &generator)
                }
                let stride = (rows + 15) / 16 * 16
                var columns = [Float](repeating: 0, count: d * stride)
                for r in 0 ..< rows { for i in 0 ..< d { columns[i * stride + r] = matrix[r * d + i] } }
                let count = 70
                var vectors: [Float] = []
                for v in 0 ..< count {
                    let value = Float.random(in: 0.01 ... 1, using: &generator)
                    vectors += v % 4 == 3 ? (0 ..< d).map { _ in Float.random(in: -1 ... 1, using: &generator) }
                        : [Float](repeating: value, count: d)
                }
                var fast = [Int](repeating: -1, count: count), portable = fast
                fast.withUnsafeMutableBufferPointer {
                    VectorMath.argmaxDotsByColumns(vectors, count: count, columns: columns, stride: stride, rows: rows,
                                                   dimension: d, into: $0.baseAddress!)
                }
                portable.withUnsafeMutableBufferPointer {
                    VectorMath.argmaxDotsByColumnsPortable(vectors, count: count, columns: columns, stride: stride,
                                                           rows: rows, dimension: d, into: $0.baseAddress!)
                }
                XCTAssertEqual(fast, portable, "d \(d), rows \(rows)")
            }
        }
    }

    func testExpApproximationIsWithinTwoUlpsOfLibm() {
        var x: Float = -87
        while x < 88 {
            let got = ExpApproximation.exp(x), want = Foundation.exp(x)
            XCTAssertEqual(got, want, accuracy: want.ulp * 2, "exp(\(x))")
            x += 0.0173
        }
        XCTAssertEqual(ExpApproximation.exp(0), 1)
        XCTAssertEqual(ExpApproximation.exp(-200), 0)
        XCTAssertEqual(ExpApproximation.exp(200), .infinity)
        XCTAssertEqual(ExpApproximation.exp(-.infinity), 0)
    }

    func testSoftmaxIsADistribution() {
        var x: [Float] = (0 ..< 37).map { Float($0 % 7) - 3 }
        x.withUnsafeMutableBufferPointer { Softmax.apply($0.baseAddress!, count: $0.count, scale: 0.5) }
        XCTAssertEqual(x.reduce(0, +), 1, accuracy: 1e-5)
        XCTAssertTrue(x.allSatisfy { $0 > 0 })
        XCTAssertEqual(x[3], x[10])  // equal inputs, equal outputs
    }

    func testRoPEAtPositionZeroIsIdentityAndRotationPreservesNorm() {
        let rope = RoPE(dimensions: 64, base: 10_000)
        var cos = [Float](repeating: 0, count: 32), sin = cos
        let original: [Float] = (0 ..< 128).map { Float($0) / 50 - 1 }
        for position in [0, 17] {
            var x = original
            cos.withUnsafeMutableBufferPointer { c in sin.withUnsafeMutableBufferPointer { s in rope.table(position: position, cos: c.baseAddress!, sin: s.baseAddress!) } }
            x.withUnsafeMutableBufferPointer { v in rope.rotate(v.baseAddress!, heads: 2, headDimension: 64, cos: cos, sin: sin) }
            if position == 0 { XCTAssertEqual(x, original) }
            for i in stride(from: 0, to: 128, by: 2) {
                XCTAssertEqual(x[i] * x[i] + x[i + 1] * x[i + 1], original[i] * original[i] + original[i + 1] * original[i + 1], accuracy: 1e-5)
            }
        }
    }

    func testRMSNormHasUnitRootMeanSquare() {
        let x: [Float] = (0 ..< 96).map { Float($0) * 0.1 - 4 }
        var y = [Float](repeating: 0, count: 96)
        let ones = [Float](repeating: 1, count: 96)
        y.withUnsafeMutableBufferPointer { RMSNorm.apply(x, weight: ones, epsilon: 0, output: $0.baseAddress!, count: 96) }
        XCTAssertEqual((y.reduce(0) { $0 + $1 * $1 } / 96).squareRoot(), 1, accuracy: 1e-5)
    }

    func testHorizontalSumOrderMatchesDefinition() {
        let a = SIMD8<Float>(1e8, 1, -1e8, 1, 3, 5, 7, 9)
        // (a0+a4 + a2+a6) + (a1+a5 + a3+a7)
        XCTAssertEqual(HorizontalSum.of8(a), ((1e8 + 3) + (-1e8 + 7)) + ((1 + 5) + (1 + 9)))
    }

    func testFusedMultiplyAddRoundsOnce() {
        // (1 + 2⁻¹²)² = 1 + 2⁻¹¹ + 2⁻²⁴: a separate multiply loses the 2⁻²⁴, a fused one keeps it.
        let a: Float = 1 + 0x1p-12
        XCTAssertEqual(a * a - 1, 0x1p-11)
        XCTAssertEqual(FusedMultiplyAdd.fma(a, a, -1), 0x1p-11 + 0x1p-24)
        XCTAssertEqual(FusedMultiplyAdd.fma(a, a, -1), (-1 as Float).addingProduct(a, a))  // the hardware/libm fma
    }
}

final class HalfRoundingTests: XCTestCase {
    /// The bit-twiddling f32→f16 rounding against Swift's own conversion, over every f16 neighbourhood.
    func testFloatToHalfMatchesSwiftConversion() {
        var x: UInt32 = 0
        while x < 0x8000_0000 {
            for sign: UInt32 in [0, 0x8000_0000] {
                let f = Float(bitPattern: x | sign)
                let want = Float16(f).bitPattern, got = HalfConversion.bits(fromFloat: f)
                if want != got && !(f.isNaN) {
                    XCTFail("\(f) (bits \(String(x | sign, radix: 16))): \(String(got, radix: 16)) vs \(String(want, radix: 16))")
                    return
                }
            }
            x &+= 4099  // a prime stride visits every exponent and many mantissas, including ties
        }
        for h in 0 ... UInt16.max where !Float16(bitPattern: h).isNaN {
            XCTAssertEqual(HalfConversion.float(fromBits: h), Float(Float16(bitPattern: h)))
            let f = Float(Float16(bitPattern: h))
            XCTAssertEqual(HalfConversion.bits(fromFloat: f), h)
            // Exact ties between neighbouring halves round to even.
            let next = Float16(bitPattern: h &+ 1)
            if h & 0x7FFF < 0x7BFF, !next.isNaN, f.sign == Float(next).sign {
                let mid = (f + Float(next)) / 2
                XCTAssertEqual(HalfConversion.bits(fromFloat: mid), Float16(mid).bitPattern, "tie at \(mid)")
            }
        }
    }
}

/// One activation row quantized to 8 bits in blocks of 32 (llama.cpp's Q8_0/Q8_1 layout, stored
/// structure-of-arrays): `quants` [blocks*32], `scales` [blocks] (rounded through f16 as Q8 stores them),
/// `sums` [blocks] (= scale × Σ quants, the Q8_1 extra that formats with a minimum need).
public struct Q8Row {
    public let quants: UnsafePointer<Int8>
    public let scales: UnsafePointer<Float>
    public let sums: UnsafePointer<Float>

    public init(quants: UnsafePointer<Int8>, scales: UnsafePointer<Float>, sums: UnsafePointer<Float>) {
        self.quants = quants
        self.scales = scales
        self.sums = sums
    }
}

/// Activations of several tokens quantized for integer dot products. Reused across calls: no allocation in the loop.
public final class Q8Activations {
    public static let blockSize = 32
    public private(set) var rowLength = 0
    public private(set) var rows = 0
    private var capacity = 0
    private var quants: UnsafeMutablePointer<Int8>
    private var scales: UnsafeMutablePointer<Float>
    private var sums: UnsafeMutablePointer<Float>

    public init() {
        quants = .allocate(capacity: 1)
        scales = .allocate(capacity: 1)
        sums = .allocate(capacity: 1)
    }

    deinit {
        quants.deallocate()
        scales.deallocate()
        sums.deallocate()
    }

    public func row(_ index: Int) -> Q8Row {
        let blocks = rowLength / Self.blockSize
        return Q8Row(quants: quants + index * rowLength, scales: scales + index * blocks, sums: sums + index * blocks)
    }

    /// Quantizes `rows` rows of `rowLength` floats (a multiple of 32) stored contiguously.
    public func quantize(_ input: UnsafePointer<Float>, rows: Int, rowLength: Int) {
        precondition(rowLength % Self.blockSize == 0, "activation row length must be a multiple of 32")
        let total = rows * rowLength
        if total > capacity {
            quants.deallocate(); scales.deallocate(); sums.deallocate()
            quants = .allocate(capacity: total)
            scales = .allocate(capacity: total / Self.blockSize)
            sums = .allocate(capacity: total / Self.blockSize)
            capacity = total
        }
        self.rows = rows
        self.rowLength = rowLength
        let quants = self.quants, scales = self.scales, sums = self.sums
        // Blocks are independent: split them over the pool when there are many (prefill).
        ParallelFor.run(total / Self.blockSize, minimumChunk: 256) { range in
            for b in range {
                Self.quantizeBlock(input + b * Self.blockSize, quants: quants + b * Self.blockSize, scale: &scales[b], sum: &sums[b])
            }
        }
    }

    /// `y` rounded half to even, for |y| ≤ 2²²: adding 1.5·2²³ leaves the rounded integer in the low mantissa bits.
    /// Unlike `Int32(y.rounded(.toNearestOrEven))` it has no range trap and no libm call, so it vectorizes under
    /// plain `-O` (a test compares it with the library rounding over every quantized value's range).
    @inline(__always)
    public static func roundedToInt32(_ y: Float) -> Int32 {
        let shifted = y + 12_582_912
        return Int32(bitPattern: shifted.bitPattern) &- 0x4B40_0000
    }

    /// One row of `count` floats (a multiple of 32) into Q8 blocks: `quants` [count], `scales` and `sums`
    /// [count / 32], as `quantize` lays them out (a query quantized for dot products with a quantized KV cache).
    public static func quantizeRow(_ x: UnsafePointer<Float>, count: Int, quants: UnsafeMutablePointer<Int8>,
                                   scales: UnsafeMutablePointer<Float>, sums: UnsafeMutablePointer<Float>) {
        for b in 0 ..< count / blockSize {
            quantizeBlock(x + b * blockSize, quants: quants + b * blockSize, scale: &scales[b], sum: &sums[b])
        }
    }

    /// As llama.cpp's x86 `quantize_row_q8_1`: d = max|x|/127 stored as f16, q = round-half-even(x·127/max|x|).
    @inline(__always)
    static func quantizeBlock(_ x: UnsafePointer<Float>, quants q: UnsafeMutablePointer<Int8>, scale: inout Float, sum: inout Float) {
        var amax: Float = 0
        for i in 0 ..< blockSize { amax = max(amax, abs(x[i])) }
        let d = amax / 127
        let inverse: Float = amax != 0 ? 127 / amax : 0
        var total: Int32 = 0
        for i in 0 ..< blockSize {
            let v = roundedToInt32(x[i] * inverse)
            q[i] = Int8(truncatingIfNeeded: min(max(v, -128), 127))
            total &+= v
        }
        scale = HalfConversion.roundedToHalf(d)
        sum = HalfConversion.roundedToHalf(d * Float(total))
    }
}

/// Activations of several tokens quantized as llama.cpp's Q8_K, the partner of the K-quant formats: per block of 256
/// values an f32 scale d, 256 int8 quants and 16 int16 sums of 16 quants (the sums pay for the formats' minimums).
/// Stored structure-of-arrays and reused across calls.
public final class Q8KActivations {
    public static let blockSize = 256
    public private(set) var blocksPerRow = 0
    private var capacity = 0
    public private(set) var scales: UnsafeMutablePointer<Float>
    public private(set) var quants: UnsafeMutablePointer<Int8>
    public private(set) var sums: UnsafeMutablePointer<Int16>

    public init() {
        scales = .allocate(capacity: 1)
        quants = .allocate(capacity: 1)
        sums = .allocate(capacity: 1)
    }

    deinit {
        scales.deallocate()
        quants.deallocate()
        sums.deallocate()
    }

    /// Quantizes `rows` rows of `rowLength` floats (a multiple of 256) stored contiguously.
    public func quantize(_ input: UnsafePointer<Float>, rows: Int, rowLength: Int) {
        precondition(rowLength % Self.blockSize == 0, "Q8_K activation rows must be a multiple of 256 long")
        let blocks = rows * rowLength / Self.blockSize
        if blocks > capacity {
            scales.deallocate()
            quants.deallocate()
            sums.deallocate()
            scales = .allocate(capacity: blocks)
            quants = .allocate(capacity: blocks * Self.blockSize)
            sums = .allocate(capacity: blocks * 16)
            capacity = blocks
        }
        blocksPerRow = rowLength / Self.blockSize
        let (scales, quants, sums) = (self.scales, self.quants, self.sums)
        ParallelFor.run(blocks, minimumChunk: 32) { range in
            for b in range {
                Self.quantizeBlock(input + b * Self.blockSize, scale: &scales[b], quants: quants + b * Self.blockSize,
                                   sums: sums + b * 16)
            }
        }
    }

    /// As ggml's `quantize_row_q8_K`: the value of largest magnitude m (the first, on ties) maps to −127, so
    /// d = −m/127 may be negative; q = round-half-even(x·(−127/m)).
    static func quantizeBlock(_ x: UnsafePointer<Float>, scale: inout Float, quants q: UnsafeMutablePointer<Int8>,
                              sums: UnsafeMutablePointer<Int16>) {
        var largest: Float = 0
        var magnitude: Float = 0
        for i in 0 ..< blockSize where abs(x[i]) > magnitude {
            magnitude = abs(x[i])
            largest = x[i]
        }
        guard magnitude > 0 else {
            scale = 0
            q.update(repeating: 0, count: blockSize)
            sums.update(repeating: 0, count: 16)
            return
        }
        let inverse = -127 / largest
        for i in 0 ..< blockSize {
            q[i] = Int8(min(127, Q8Activations.roundedToInt32(inverse * x[i])))
        }
        for group in 0 ..< 16 {
            var total: Int16 = 0
            for i in 0 ..< 16 { total += Int16(q[group * 16 + i]) }
            sums[group] = total
        }
        scale = 1 / inverse
    }
}

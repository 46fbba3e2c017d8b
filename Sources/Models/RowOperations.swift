import Kernels

/// Row-wise steps every block of every architecture repeats, on the scratch views of a forward pass.
enum RowOperations {
    /// RMSNorm of `rows` rows of `width` floats each, from `x` into `y` (in place when they are the same).
    static func normalize(_ x: Buffer, into y: Buffer, weight: [Float], rows: Int, width: Int, epsilon: Float) {
        weight.withUnsafeBufferPointer { w in
            for t in 0 ..< rows {
                RMSNorm.apply(x.p + t * width, weight: w.baseAddress!, epsilon: epsilon, output: y.p + t * width,
                              count: width)
            }
        }
    }

    /// destination += source, element by element (the residual connection).
    static func add(_ source: Buffer, into destination: Buffer, count: Int) {
        for i in 0 ..< count { destination.p[i] += source.p[i] }
    }

    /// x ·= factor, element by element.
    static func scale(_ x: Buffer, by factor: Float, count: Int) {
        for i in 0 ..< count { x.p[i] *= factor }
    }
}

/// A view of part of the scratch buffer (no copy-on-write checks in the hot loop).
struct Buffer {
    let p: UnsafeMutablePointer<Float>
}

/// Carves one reused scratch allocation into consecutive views of the given sizes.
func scratchViews(_ scratch: ScratchBuffer, sizes: [Int]) -> [Buffer] {
    var base = scratch.floats(sizes.reduce(0, +))
    return sizes.map { size -> Buffer in
        defer { base += size }
        return Buffer(p: base)
    }
}

import CKernels
import Foundation

/// Float vector primitives used by norms, attention and the generic matmul path.
public enum VectorMath {
    /// Σ a[i]·b[i], 16 lanes at a time.
    @inline(__always)
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        var acc = SIMD16<Float>()
        var i = 0
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        while i + 16 <= count {
            let x = ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
            let y = rb.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
            acc += x * y
            i += 16
        }
        var sum = acc.sum()
        while i < count { sum += a[i] * b[i]; i += 1 }
        return sum
    }

    /// For each of `count` vectors ([count, dimension]), the row of a matrix stored by columns (`columns[i · stride
    /// + r]` is element i of row r; `stride` a multiple of 16, rows from `rows` up are padding) with the largest dot
    /// product — the first on ties, every product bit for bit what `dot` gives. Lane j of `dot`'s accumulator is
    /// built for 16 rows at once and the lanes are added in `dot`'s order, so no row waits on a chain of dependent
    /// adds; vectors go in tiles against 16-row blocks so both stay in L1 (EMS's merge scans 2,048 kept keys
    /// for each of 2,048 evicted ones).
    public static func argmaxDotsByColumns(_ vectors: UnsafePointer<Float>, count: Int, columns: UnsafePointer<Float>,
                                           stride: Int, rows: Int, dimension d: Int,
                                           into best: UnsafeMutablePointer<Int>) {
        precondition(stride % 16 == 0 && rows <= stride, "argmaxDotsByColumns: \(rows) rows in a stride of \(stride)")
        guard KernelDispatch.useAVX2 else {
            argmaxDotsByColumnsPortable(vectors, count: count, columns: columns, stride: stride, rows: rows,
                                        dimension: d, into: best)
            return
        }
        // The C kernel adds in this order too (two 8-lane halves of each 16-row block): the same rows win.
        var bestValues = [Float](repeating: 0, count: count)
        var block = [Float](repeating: 0, count: 16 * d)
        bestValues.withUnsafeMutableBufferPointer { values in
            block.withUnsafeMutableBufferPointer { block in
                best.withMemoryRebound(to: Int64.self, capacity: count) { best in
                    tp_argmax_dots_by_columns(vectors, Int32(count), columns, stride, Int32(rows), Int32(d),
                                              block.baseAddress, values.baseAddress, best)
                }
            }
        }
    }

    /// The portable twin of `argmaxDotsByColumns` (and the reference of its AVX2 kernel).
    public static func argmaxDotsByColumnsPortable(_ vectors: UnsafePointer<Float>, count: Int,
                                                   columns: UnsafePointer<Float>, stride: Int, rows: Int,
                                                   dimension d: Int, into best: UnsafeMutablePointer<Int>) {
        var bestValues = [Float](repeating: -.infinity, count: count)
        best.update(repeating: 0, count: count)
        let tile = 64
        for first in Swift.stride(from: 0, to: count, by: tile) {
            let last = min(first + tile, count)
            for r in Swift.stride(from: 0, to: rows, by: 16) {
                for v in first ..< last {
                    let sums = dotsByColumns(vectors + v * d, columns: columns, stride: stride, block: r, dimension: d)
                    for lane in 0 ..< min(16, rows - r) where sums[lane] > bestValues[v] {
                        bestValues[v] = sums[lane]
                        best[v] = r + lane
                    }
                }
            }
        }
    }

    /// `dot(row, vector)` for the 16 rows `block ..< block + 16` of a matrix stored by columns, in `dot`'s order.
    @inline(__always)
    static func dotsByColumns(_ vector: UnsafePointer<Float>, columns: UnsafePointer<Float>, stride: Int, block r: Int,
                              dimension d: Int) -> SIMD16<Float> {
        let full = d / 16 * 16
        let raw = UnsafeRawPointer(columns)
        var sums = SIMD16<Float>()
        for lane in 0 ..< min(16, full) {
            var accumulator = SIMD16<Float>()
            var i = lane
            while i < full {
                let column = raw.loadUnaligned(fromByteOffset: (i * stride + r) * 4, as: SIMD16<Float>.self)
                accumulator += column * SIMD16(repeating: vector[i])
                i += 16
            }
            sums = lane == 0 ? accumulator : sums + accumulator
        }
        for i in full ..< d {
            sums += raw.loadUnaligned(fromByteOffset: (i * stride + r) * 4, as: SIMD16<Float>.self) * vector[i]
        }
        return sums
    }

    /// Scalar twin of `dot`.
    public static func dotScalar(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        var sum: Float = 0
        for i in 0 ..< count { sum += a[i] * b[i] }
        return sum
    }

    /// y[i] += alpha·x[i].
    @inline(__always)
    public static func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        let rx = UnsafeRawPointer(x), ry = UnsafeMutableRawPointer(y)
        let a = SIMD16<Float>(repeating: alpha)
        while i + 16 <= count {
            let xs = rx.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
            let v = ry.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self) + a * xs
            ry.storeBytes(of: v, toByteOffset: i * 4, as: SIMD16<Float>.self)
            i += 16
        }
        while i < count { y[i] += alpha * x[i]; i += 1 }
    }
}

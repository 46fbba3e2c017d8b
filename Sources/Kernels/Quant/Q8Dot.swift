/// Shared integer inner product of 32 weights (as two 16-lane halves) with 32 int8 activations.
enum Q8Dot {
    @inline(__always)
    static func sum(lo: SIMD16<Int16>, hi: SIMD16<Int16>, _ q: UnsafePointer<Int8>) -> Int32 {
        let raw = UnsafeRawPointer(q)
        let a0 = SIMD16<Int16>(truncatingIfNeeded: raw.loadUnaligned(as: SIMD16<Int8>.self))
        let a1 = SIMD16<Int16>(truncatingIfNeeded: raw.loadUnaligned(fromByteOffset: 16, as: SIMD16<Int8>.self))
        let p0 = SIMD16<Int32>(truncatingIfNeeded: lo &* a0)
        let p1 = SIMD16<Int32>(truncatingIfNeeded: hi &* a1)
        return (p0 &+ p1).wrappedSum()
    }

    /// The 5th bit of each of 32 elements, from a Q5 block's 32-bit `qh`, as two 16-lane halves of 0 or 16.
    @inline(__always)
    static func highBits(_ qh: UInt32) -> (SIMD16<Int16>, SIMD16<Int16>) {
        let shifts = SIMD16<UInt32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
        let lo = (SIMD16<UInt32>(repeating: qh) &>> shifts) & 1
        let hi = (SIMD16<UInt32>(repeating: qh >> 16) &>> shifts) & 1
        return (SIMD16<Int16>(truncatingIfNeeded: lo) &<< 4, SIMD16<Int16>(truncatingIfNeeded: hi) &<< 4)
    }
}

import CKernels
import Foundation

/// Chooses between the C kernels built for AVX2+FMA+F16C (when this CPU has them) and the portable Swift SIMD
/// kernels. Both give bit-identical results; `TOKENPRESS_PORTABLE=1` forces the portable path.
public enum KernelDispatch {
    /// Whether this CPU can run the AVX2 kernels.
    public static let cpuHasAVX2 = tp_has_avx2() != 0

    /// Set to use only the portable Swift kernels (tests of the fallback path).
    nonisolated(unsafe) public static var forcePortable = ProcessInfo.processInfo.environment["TOKENPRESS_PORTABLE"] == "1"

    /// True when the AVX2 kernels are in use.
    public static var useAVX2: Bool { cpuHasAVX2 && !forcePortable }

    /// A short name of the kernels in use, for statistics.
    public static var name: String { useAVX2 ? "avx2" : "portable" }
}

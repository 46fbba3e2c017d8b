import CKernels
import Foundation

/// Chooses between the C kernels built for AVX2+FMA+F16C (when this CPU has them) and the portable Swift SIMD
/// kernels. Both give bit-identical results; `TOKENPRESS_PORTABLE=1` forces the portable path. On CPUs with
/// AVX-512 VNNI, batched Q8-dot matmuls use 512-bit tiles with the AVX2 kernels' bits (`TOKENPRESS_NO_AVX512=1`
/// keeps them on AVX2).
public enum KernelDispatch {
    /// Whether this CPU can run the AVX2 kernels.
    public static let cpuHasAVX2 = tp_has_avx2() != 0

    /// Whether this CPU has AVX-512 F, BW, VL and VNNI.
    public static let cpuHasAVX512 = tp_has_avx512() != 0

    /// Set to use only the portable Swift kernels (tests of the fallback path).
    nonisolated(unsafe) public static var forcePortable = ProcessInfo.processInfo.environment["TOKENPRESS_PORTABLE"] == "1"

    /// Set false to keep batched matmuls on the AVX2 tiles (tests compare the two).
    nonisolated(unsafe) public static var allowAVX512 =
        ProcessInfo.processInfo.environment["TOKENPRESS_NO_AVX512"] != "1" {
        didSet { tp_use_avx512(allowAVX512 ? 1 : 0) }
    }

    /// True when the AVX2 kernels are in use.
    public static var useAVX2: Bool { cpuHasAVX2 && !forcePortable }

    /// True when batched Q8-dot matmuls use the AVX-512 tiles.
    public static var useAVX512: Bool { useAVX2 && cpuHasAVX512 && allowAVX512 }

    /// A short name of the kernels in use, for statistics.
    public static var name: String { useAVX2 ? (useAVX512 ? "avx2+avx512vnni" : "avx2") : "portable" }
}

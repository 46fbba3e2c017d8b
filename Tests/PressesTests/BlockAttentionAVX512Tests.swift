import Kernels
import KVCache
import TestSupport
import XCTest

/// Attention over llama.cpp's block cache types and over KIVI's codes takes 512-bit kernels on CPUs with AVX-512
/// VNNI (two key rows per register for the logits, a block's 32 values as two registers of floats for the value
/// sums). They must give the bits of the AVX2 kernels and of the portable twin, for every format and mix and every
/// KIVI width, value group (16 and 8 channels: the 4-bit value kernel takes multiples of 32, the byte-spread one
/// multiples of 16, AVX2 the rest), sinks, window and rotation, in decode (query heads grouped) and in prefill (query
/// by query), for group sizes the kernels split (5 = 4 + 1), heads of 64, 128 and 256 values and one wider than the
/// 512-bit kernels hold (320: they hand it back to AVX2), and heads of different lengths.
final class BlockAttentionAVX512Tests: XCTestCase {
    func testAVX512AttentionGivesTheAVX2AndPortableBits() throws {
        try XCTSkipUnless(KernelDispatch.useAVX2 && KernelDispatch.cpuHasAVX512, "this CPU has no AVX-512 VNNI")
        defer { KernelDispatch.allowAVX512 = true }
        let storages: [KVStorage] = CacheType.allCases.filter { $0 != .f16 }.map { .cacheTypes(key: $0, value: $0) }
            + [.cacheTypes(key: .q8_0, value: .q4_1), .cacheTypes(key: .q4_0, value: .q5_1)]
            + QuantizedCacheTests.storages.filter { if case .kivi = $0 { return true } else { return false } }
            + [.kivi(try KIVISettings(bits: 4, group: 16, residual: 0)),
               .kivi(try KIVISettings(bits: 2, group: 16, residual: 0))]
        let shapes: [(d: Int, group: Int)] = [(64, 3), (128, 5), (256, 4), (320, 2)]
        for storage in storages {
            for shape in shapes {
                if case .kivi(let settings) = storage, settings.rotate, shape.d & (shape.d - 1) != 0 {
                    continue  // rotation takes power-of-2 heads
                }
                let cache = Self.filledCache(storage: storage, d: shape.d, group: shape.group)
                let label = "\(storage) d=\(shape.d) group=\(shape.group)"
                for positions in [[610], [257], [608, 609, 610]] {
                    let queries = QuantizedCacheTests.rows(2 * shape.group * positions.count, seed: 5, d: shape.d)
                    var results: [[UInt32]] = []
                    for (kernel, avx512) in [(AttentionKernel.avx2, true), (.avx2, false), (.portable, false)] {
                        KernelDispatch.allowAVX512 = avx512
                        results.append(Self.attend(cache, queries: queries, positions: positions, kernel: kernel))
                    }
                    XCTAssertEqual(results[0], results[1], "\(label) at \(positions): AVX-512 against AVX2")
                    XCTAssertEqual(results[0], results[2], "\(label) at \(positions): AVX-512 against portable")
                    XCTAssertFalse(results[0].contains { !Float(bitPattern: $0).isFinite }, label)
                }
            }
        }
    }

    /// Two KV heads of 611 tokens; the second keeps every third, so the heads' lengths differ.
    static func filledCache(storage: KVStorage, d: Int, group: Int) -> KVCache {
        let spec = AttentionSpec(headDimension: d, queryHeads: 2 * group, kvHeads: 2, scale: 0.125,
                                 rope: RoPE(dimensions: d, base: 10_000))
        let cache = KVCache(specs: [spec])
        cache.setStorage(storage)
        let tokens = 611
        let keys = QuantizedCacheTests.rows(tokens * 2, seed: 3, d: d)
        let values = QuantizedCacheTests.rows(tokens * 2, seed: 4, d: d)
        keys.withUnsafeBufferPointer { k in
            values.withUnsafeBufferPointer { v in
                cache.layers[0].append(keys: k.baseAddress!, values: v.baseAddress!, tokens: tokens, firstPosition: 0)
            }
        }
        cache.layers[0].heads[1].retain(indices: Array(stride(from: 0, to: tokens, by: 3)))
        return cache
    }

    /// The attention outputs' bits for `queries` at `positions` (one token decodes grouped, more go query by query).
    static func attend(_ cache: KVCache, queries: [Float], positions: [Int], kernel: AttentionKernel) -> [UInt32] {
        var output = [Float](repeating: .nan, count: queries.count)
        queries.withUnsafeBufferPointer { q in
            positions.withUnsafeBufferPointer { p in
                output.withUnsafeMutableBufferPointer { o in
                    CachedAttention.compute(layer: cache.layers[0], queries: q.baseAddress!, tokens: positions.count,
                                            positions: p.baseAddress!, output: o.baseAddress!, kernel: kernel)
                }
            }
        }
        return output.map(\.bitPattern)
    }
}

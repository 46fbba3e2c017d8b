import Engine
import Kernels
import KVCache
import Presses
import Sampling
import TestSupport
import XCTest

/// Quantized storage: llama.cpp's cache types and KIVI, attended on their stored codes. Each is checked against
/// its own decoded rows (dequantize-then-attend, in double), on both kernel paths, for exact bytes, and through
/// presses, copies and re-indexing.
final class QuantizedCacheTests: XCTestCase {
    static let d = 64

    /// Deterministic values with a few large channels, as keys have.
    static func rows(_ tokens: Int, seed: Int, d: Int = d) -> [Float] {
        var generator = SeededGenerator(seed: UInt64(seed))
        return (0 ..< tokens * d).map { i in
            let channel = i % d
            let spread: Float = channel % 16 == 3 ? 8 : 1
            return Float.random(in: -spread ... spread, using: &generator)
        }
    }

    static var kernels: [AttentionKernel] { KernelDispatch.useAVX2 ? [.avx2, .portable] : [.portable] }

    static let kivi4 = try! KIVISettings(bits: 4, group: 32, residual: 16)

    /// Every storage this file checks.
    static var storages: [KVStorage] {
        var all: [KVStorage] = CacheType.allCases.map { .cacheTypes(key: $0, value: $0) }
        all.append(.cacheTypes(key: .q8_0, value: .f16))
        all.append(.cacheTypes(key: .f16, value: .q4_0))
        all.append(.cacheTypes(key: .q4_0, value: .q4_0, rotated: true))
        all.append(.cacheTypes(key: .q8_0, value: .q5_1, rotated: true))
        for bits in [2, 3, 4, 8] {
            all.append(.kivi(try! KIVISettings(bits: bits, group: 32, residual: 16)))
        }
        all.append(.kivi(try! KIVISettings(bits: 3, group: 8, residual: 0)))
        all.append(.kivi(try! KIVISettings(bits: 2, group: 32, residual: 16, sinks: 5, fit: .meanSquare)))
        all.append(.kivi(try! KIVISettings(bits: 4, group: 32, residual: 16, rotate: true)))
        all.append(.kivi(try! KIVISettings(bits: 2, group: 32, residual: 16, sinks: 5, fit: .meanSquare, rotate: true)))
        // Keys and values at different widths, both ways round.
        all.append(.kivi(try! KIVISettings(bits: 2, keyBits: 3, group: 32, residual: 16, rotate: true)))
        all.append(.kivi(try! KIVISettings(bits: 4, keyBits: 2, group: 8, residual: 0)))
        // llama.cpp's q4_0 layout (a 64-channel value group) and 8-bit codes in it.
        all.append(.kivi(try! KIVISettings(bits: 4, group: 64, residual: 0)))
        all.append(.kivi(try! KIVISettings(bits: 8, group: 64, residual: 0)))
        return all
    }

    /// A one-layer cache (2 query heads over 1 KV head of `d` values) holding `tokens` tokens stored as `storage`.
    static func cache(_ storage: KVStorage, tokens: Int, seed: Int = 1, batch: Int = 40) -> KVCache {
        let spec = AttentionSpec(headDimension: d, queryHeads: 2, kvHeads: 1, scale: 0.125,
                                 rope: RoPE(dimensions: d, base: 10_000))
        let cache = KVCache(specs: [spec])
        cache.setStorage(storage)
        let keys = rows(tokens, seed: seed)
        let values = rows(tokens, seed: seed + 100)
        var start = 0
        while start < tokens {
            let n = min(batch, tokens - start)
            keys.withUnsafeBufferPointer { k in
                values.withUnsafeBufferPointer { v in
                    cache.layers[0].append(keys: k.baseAddress! + start * d, values: v.baseAddress! + start * d,
                                           tokens: n, firstPosition: start)
                }
            }
            start += n
        }
        cache.nextPosition = tokens
        return cache
    }

    /// Attention output of `queries` (one token, 2 heads) at position `at` by `CachedAttention`.
    static func attend(_ cache: KVCache, queries: [Float], at position: Int, kernel: AttentionKernel) -> [Float] {
        var output = [Float](repeating: 0, count: queries.count)
        let positions = [position]
        queries.withUnsafeBufferPointer { q in
            positions.withUnsafeBufferPointer { p in
                output.withUnsafeMutableBufferPointer { o in
                    CachedAttention.compute(layer: cache.layers[0], queries: q.baseAddress!, tokens: 1,
                                            positions: p.baseAddress!, output: o.baseAddress!, kernel: kernel)
                }
            }
        }
        return output
    }

    /// The same from the definition in double, over the rows the cache decodes (what it stores, as floats).
    static func reference(_ cache: KVCache, queries: [Float], at position: Int) -> [Float] {
        let head = cache.layers[0].heads[0]
        let positions = head.positions
        let visible = positions.indices.filter { Int(positions[$0]) <= position }
        var output = [Float](repeating: 0, count: queries.count)
        var keyType = CacheType.f16
        var rotated = false
        if case .cacheTypes(let key, _, let turned) = head.storage {
            keyType = key
            rotated = turned && key != .f16
        }
        for h in 0 ..< 2 {
            var query = (0 ..< d).map { Float(Float16(queries[h * d + $0])) }
            // Rotated keys are stored as H·k and read with H·q.
            if rotated { query.withUnsafeMutableBufferPointer { HadamardRotation.rotate($0.baseAddress!, count: d) } }
            var q = query.map(Double.init)
            // Block-type keys are dotted with the query quantized to 8 bits, as llama.cpp does: so is the reference.
            if keyType != .f16 { q = quantizedQuery(query) }
            let logits = visible.map { j -> Double in
                var key = head.token(j).key
                if rotated { key.withUnsafeMutableBufferPointer { HadamardRotation.rotate($0.baseAddress!, count: d) } }
                return zip(q, key).reduce(0) { $0 + $1.0 * Double($1.1) } * 0.125
            }
            let top = logits.max() ?? 0
            let weights = logits.map { exp($0 - top) }
            let total = weights.reduce(0, +)
            for (n, j) in visible.enumerated() {
                let value = head.token(j).value
                for i in 0 ..< d { output[h * d + i] += Float(weights[n] / total * Double(value[i])) }
            }
        }
        return output
    }

    /// `query` through Q8 blocks and back.
    static func quantizedQuery(_ query: [Float]) -> [Double] {
        var quants = [Int8](repeating: 0, count: d)
        var scales = [Float](repeating: 0, count: d / 32)
        var sums = scales
        Q8Activations.quantizeRow(query, count: d, quants: &quants, scales: &scales, sums: &sums)
        return (0 ..< d).map { Double(scales[$0 / 32]) * Double(quants[$0]) }
    }

    /// How far the stored-form kernels may be from decode-then-attend (values reach ±8): the f16 paths round
    /// softmax weights to f16 as llama.cpp does, and KIVI folds scales into the query in single precision. A code
    /// read wrongly moves outputs by far more (4-bit steps of keys and values are ~0.5 here). Key types with a
    /// minimum (q4_1, q5_1) also use the query blocks' sums, which Q8_1 rounds to f16.
    static func tolerance(_ storage: KVStorage) -> Float {
        if case .cacheTypes(let key, _, _) = storage, key == .q4_1 || key == .q5_1 { return 5e-3 }
        return 2e-3
    }

    func testAttentionOnStoredCodesEqualsDecodeThenAttendOnBothKernels() {
        let queries = Self.rows(2, seed: 9)
        for storage in Self.storages {
            let cache = Self.cache(storage, tokens: 203)
            let expected = Self.reference(cache, queries: queries, at: 202)
            var outputs: [[Float]] = []
            for kernel in Self.kernels {
                let output = Self.attend(cache, queries: queries, at: 202, kernel: kernel)
                let error = zip(output, expected).map { abs($0 - $1) }.max()!
                XCTAssertLessThan(error, Self.tolerance(storage), "\(storage) \(kernel)")
                outputs.append(output)
            }
            // The AVX2 kernels give the portable twins' bits.
            if outputs.count == 2 { XCTAssertEqual(outputs[0], outputs[1], "\(storage): AVX2 and portable differ") }
            // A query early in the cache sees only what came before it.
            let early = Self.attend(cache, queries: queries, at: 50, kernel: .portable)
            let earlyExpected = Self.reference(cache, queries: queries, at: 50)
            XCTAssertLessThan(zip(early, earlyExpected).map { abs($0 - $1) }.max()!, Self.tolerance(storage), "\(storage)")
        }
    }

    /// Decoding reads each KV head once for all its query heads (`GroupedDecodeAttention`: logits split by rows,
    /// value sums by channels). Outputs must have the bits of every query head reading the rows itself, for every
    /// block format and a mix, every KIVI setting of this file (sinks, rotation, split widths: f16 sinks and window
    /// around the codes), heads holding tiers of KIVI codes at several widths beside f16 tokens (as `mikv` leaves
    /// them), group sizes that the kernels split (3, 5), long and short heads, head dimensions 64 and 128, a sliding
    /// window, and both kernels. A layer of f16 rows alone stays query by query.
    func testGroupedDecodeGivesTheBitsOfQueryByQueryAttention() {
        var storages: [KVStorage] = CacheType.allCases.filter { $0 != .f16 }.map { .cacheTypes(key: $0, value: $0) }
            + [.cacheTypes(key: .q8_0, value: .q4_1), .cacheTypes(key: .q5_0, value: .q8_0)]
        storages += Self.storages.filter { if case .kivi = $0 { return true } else { return false } }
        let tiered: [CodeSettings?] = [nil, CodeSettings(group: 16), CodeSettings(group: 32, rotate: true, keyBits: 3)]
        let shapes: [(d: Int, group: Int, window: Int?)] = [(64, 3, nil), (128, 5, nil), (64, 2, 100)]
        for (storage, codes) in storages.map({ ($0, nil) }) + tiered.compactMap({ $0 }).map({ (KVStorage.f16, $0) }) {
            for shape in shapes {
                let spec = AttentionSpec(headDimension: shape.d, queryHeads: 2 * shape.group, kvHeads: 2, scale: 0.125,
                                         rope: RoPE(dimensions: shape.d, base: 10_000), slidingWindow: shape.window)
                let cache = KVCache(specs: [spec])
                cache.setStorage(storage)
                let tokens = 611
                let keys = Self.rows(tokens * 2, seed: 3, d: shape.d)
                let values = Self.rows(tokens * 2, seed: 4, d: shape.d)
                keys.withUnsafeBufferPointer { k in
                    values.withUnsafeBufferPointer { v in
                        cache.layers[0].append(keys: k.baseAddress!, values: v.baseAddress!, tokens: tokens, firstPosition: 0)
                    }
                }
                // The second head keeps fewer tokens, so the heads' logits differ in length.
                cache.layers[0].heads[1].retain(indices: Array(stride(from: 0, to: tokens, by: 3)))
                if let codes {
                    // Tiers out of position order: 2-bit, 4-bit and f16 tokens, each tier by position.
                    for head in cache.layers[0].heads {
                        let all = Array(0 ..< head.count)
                        _ = head.storeTiers([(.bits(2), all.filter { $0 % 3 == 0 }), (.bits(4), all.filter { $0 % 3 == 1 }),
                                             (.f16, all.filter { $0 % 3 == 2 })], codes: codes)
                    }
                    XCTAssertEqual(cache.layers[0].heads[0].segments.filter { $0 is KIVISegment }.count, 2)
                }
                XCTAssertTrue(GroupedDecodeAttention.applies(to: cache.layers[0]), "\(storage)")
                let plain = KVCache(specs: [spec])
                keys.withUnsafeBufferPointer { k in
                    values.withUnsafeBufferPointer { v in
                        plain.layers[0].append(keys: k.baseAddress!, values: v.baseAddress!, tokens: 8, firstPosition: 0)
                    }
                }
                XCTAssertFalse(GroupedDecodeAttention.applies(to: plain.layers[0]), "f16 rows alone")
                let queries = Self.rows(2 * shape.group, seed: 5, d: shape.d)
                for kernel in Self.kernels {
                    for position in [610, 257, 0] {
                        var grouped = [Float](repeating: .nan, count: queries.count)
                        var separate = grouped
                        queries.withUnsafeBufferPointer { q in
                            [position].withUnsafeBufferPointer { p in
                                grouped.withUnsafeMutableBufferPointer { o in
                                    CachedAttention.compute(layer: cache.layers[0], queries: q.baseAddress!, tokens: 1,
                                                            positions: p.baseAddress!, output: o.baseAddress!, kernel: kernel)
                                }
                                separate.withUnsafeMutableBufferPointer { o in
                                    CachedAttention.compute(layer: cache.layers[0], queries: q.baseAddress!, tokens: 1,
                                                            positions: p.baseAddress!, output: o.baseAddress!, kernel: kernel,
                                                            groupQueries: false)
                                }
                            }
                        }
                        let label = "\(storage) \(String(describing: codes)) \(shape) \(kernel) at \(position)"
                        XCTAssertEqual(grouped, separate, label)
                        XCTAssertFalse(grouped.contains { !$0.isFinite }, label)
                    }
                }
            }
        }
    }

    func testRotationIsItsOwnInverseAndHelpsKeysWithOutlierChannels() {
        var x = Self.rows(1, seed: 4)
        let original = x
        x.withUnsafeMutableBufferPointer { HadamardRotation.rotate($0.baseAddress!, count: Self.d) }
        let norm = { (v: [Float]) in v.reduce(0) { $0 + $1 * $1 }.squareRoot() }
        XCTAssertEqual(norm(x), norm(original), accuracy: 1e-4)
        XCTAssertNotEqual(x, original)
        x.withUnsafeMutableBufferPointer { HadamardRotation.rotate($0.baseAddress!, count: Self.d) }
        XCTAssertLessThan(zip(x, original).map { abs($0 - $1) }.max()!, 1e-5)
        // The copying helpers rotate as the in-place transform does and leave their source alone.
        let turned = HadamardRotation.rotated(original)
        XCTAssertLessThan(zip(HadamardRotation.rotated(turned), original).map { abs($0 - $1) }.max()!, 1e-5)
        let two = Self.rows(2, seed: 5)
        let copied = two.withUnsafeBufferPointer { source in
            HadamardRotation.withRotatedCopy(of: source.baseAddress!, count: 2, dimension: Self.d) {
                Array(UnsafeBufferPointer(start: $0, count: 2 * Self.d))
            }
        }
        XCTAssertEqual(copied, HadamardRotation.rotated(Array(two[..<Self.d]))
                       + HadamardRotation.rotated(Array(two[Self.d...])))
        XCTAssertEqual(two, Self.rows(2, seed: 5))
        XCTAssertFalse(HadamardRotation.supports(dimension: 48))
        XCTAssertThrowsError(try KVStorage.cacheTypes(key: .q4_0, value: .q4_0, rotated: true).check(dimension: 96))
        // The point of rotating: keys with outlier channels lose less to 4 bits (against the exact f16 attention).
        let queries = Self.rows(2, seed: 21)
        let exact = Self.attend(Self.cache(.f16, tokens: 300), queries: queries, at: 299, kernel: .portable)
        func error(_ rotated: Bool) -> Float {
            let cache = Self.cache(.cacheTypes(key: .q4_0, value: .q4_0, rotated: rotated), tokens: 300)
            let output = Self.attend(cache, queries: queries, at: 299, kernel: .portable)
            return zip(output, exact).map { ($0 - $1) * ($0 - $1) }.reduce(0, +)
        }
        XCTAssertLessThan(error(true), error(false) * 0.8, "rotation should cut the squared error")
    }

    func testSparseRowsAttendAsTheirDenseFormAndKeepTheLargestValues() throws {
        let queries = Self.rows(2, seed: 13)
        for sparsity in [0.5, 0.7] {
            let press = try MustafarPress(sparsity: sparsity)
            let cache = Self.cache(.f16, tokens: 120)
            let dense = cache.layers[0].heads[0].token(7).key
            try press.compress(cache)
            let head = cache.layers[0].heads[0]
            let kept = press.kept(dimension: Self.d)
            XCTAssertEqual(kept, sparsity == 0.5 ? 32 : 19)
            XCTAssertEqual(head.count, 120, "every token is kept")
            XCTAssertEqual(cache.byteCount, 120 * (2 * 8 + 2 * kept * 2) + 8, "bitmaps, kept f16 values, one run of positions")
            let pruned = head.token(7).key
            XCTAssertEqual(pruned.filter { $0 != 0 }.count, kept)
            let smallestKept = pruned.filter { $0 != 0 }.map(abs).min()!
            let largestDropped = zip(dense, pruned).filter { $0.1 == 0 }.map { abs($0.0) }.max()!
            XCTAssertGreaterThanOrEqual(smallestKept, Float(Float16(largestDropped)), "the largest magnitudes stay")
            let outputs = Self.kernels.map { Self.attend(cache, queries: queries, at: 119, kernel: $0) }
            let expected = Self.reference(cache, queries: queries, at: 119)
            for (output, kernel) in zip(outputs, Self.kernels) {
                XCTAssertLessThan(zip(output, expected).map { abs($0 - $1) }.max()!, 2e-3, "sparsity \(sparsity) \(kernel)")
            }
            XCTAssertEqual(outputs.first, outputs.last, "the C kernels give the Swift twin's bits")
            cache.retain(layer: 0, head: 0, indices: Array(stride(from: 0, to: 120, by: 2)))
            XCTAssertEqual(cache.byteCount, 60 * (2 * 8 + 2 * kept * 2 + 4), "every other position: a list of 60")
            XCTAssertGreaterThan(cache.reindex(), 0)
        }
        for bad in ["mustafar:sparsity=1", "mustafar:sparsity=0", "mustafar:sparsity=-0.5"] {
            XCTAssertThrowsError(try PressRegistry.make(bad, ratio: 0.5), bad)
        }
    }

    func testGEARsCorrectionsLowerTheBackbonesErrorAndAttentionReadsAllThree() throws {
        let queries = Self.rows(2, seed: 17)
        let original = Self.cache(.f16, tokens: 96)
        let exact = (0 ..< 96).map { original.layers[0].heads[0].token($0) }
        func error(_ cache: KVCache) -> Float {
            (0 ..< 96).reduce(0) { total, j in
                let t = cache.layers[0].heads[0].token(j)
                return total + zip(t.key, exact[j].key).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
            }
        }
        let backboneOnly = original.copy()
        try GEARPress(bits: 2, rank: 0, outliers: 0).compress(backboneOnly)
        let gear = original.copy()
        try GEARPress(bits: 2, rank: 4, outliers: 0.05).compress(gear)
        XCTAssertLessThan(error(gear), error(backboneOnly) * 0.8, "outliers and the low-rank fit cut the error")
        // Bytes: the 2-bit backbone (KIVI, 3 key groups) + per side A [96, 4] and B [64, 4] in f16 + 3 outliers a row.
        let backbone = 2 * 96 * 64 * 2 / 8 + 3 * (64 * 4 + 4) + 96 * 2 * 4 + 8
        XCTAssertEqual(gear.byteCount, backbone + 2 * ((96 * 4 + 64 * 4) * 2 + 96 * 3 * 3))
        let outputs = Self.kernels.map { Self.attend(gear, queries: queries, at: 95, kernel: $0) }
        let expected = Self.reference(gear, queries: queries, at: 95)
        for (output, kernel) in zip(outputs, Self.kernels) {
            XCTAssertLessThan(zip(output, expected).map { abs($0 - $1) }.max()!, 2e-3, "\(kernel)")
        }
        XCTAssertEqual(outputs.first, outputs.last, "AVX2 and portable backbones give the same bits")
        let kept = Array(stride(from: 0, to: 96, by: 2))
        let before = kept.map { gear.layers[0].heads[0].token($0).key }
        gear.retain(layer: 0, head: 0, indices: kept)
        XCTAssertEqual(kept.indices.map { gear.layers[0].heads[0].token($0).key }, before, "a kept token is the same token")
        let after = Self.attend(gear, queries: queries, at: 95, kernel: .portable)
        let expectedAfter = Self.reference(gear, queries: queries, at: 95)
        XCTAssertLessThan(zip(after, expectedAfter).map { abs($0 - $1) }.max()!, 2e-3)
        for bad in ["gear:bits=5", "gear:rank=-1", "gear:outliers=0.9", "gear:group=0"] {
            XCTAssertThrowsError(try PressRegistry.make(bad, ratio: 0.5), bad)
        }
    }

    func testPackedCodesRoundTripAtEveryBitWidth() {
        let rows = 37
        for bits in PackedCodes.supportedBits {
            var generator = SeededGenerator(seed: UInt64(bits))
            let top = UInt8((1 << bits) - 1)
            let codes = (0 ..< rows * Self.d).map { _ in UInt8.random(in: 0 ... top, using: &generator) }
            let rowBytes = PackedCodes.byteCount(codes: Self.d, bits: bits)
            var packed = [UInt8](repeating: 0, count: rows * rowBytes)
            codes.withUnsafeBufferPointer { c in
                packed.withUnsafeMutableBufferPointer { p in
                    for r in 0 ..< rows {
                        PackedCodes.pack(c.baseAddress! + r * Self.d, count: Self.d, bits: bits,
                                         into: p.baseAddress! + r * rowBytes)
                    }
                    for r in 0 ..< rows {
                        for c in 0 ..< Self.d {
                            let code = PackedCodes.code(UnsafePointer(p.baseAddress! + r * rowBytes), c, bits: bits)
                            XCTAssertEqual(code, Int(codes[r * Self.d + c]), "\(bits) bits, row \(r), code \(c)")
                        }
                    }
                }
            }
        }
    }

    func testBytesAreExact() {
        let n = 203
        for type in CacheType.allCases {
            let cache = Self.cache(.cacheTypes(key: type, value: type), tokens: n)
            XCTAssertEqual(cache.byteCount, n * 2 * type.rowBytes(dimension: Self.d) + 8, "\(type): rows, one run of positions")
        }
        XCTAssertEqual(CacheType.q4_0.rowBytes(dimension: 64), 36)
        XCTAssertEqual(CacheType.q8_0.bitsPerValue, 8.5)
        for bits in [2, 3, 4, 8] {
            let settings = try! KIVISettings(bits: bits, group: 32, residual: 16)
            let cache = Self.cache(.kivi(settings), tokens: n)
            // 203 tokens: 160 quantized (5 key groups; 16 ≤ f16 window < 48), 43 in f16.
            let head = cache.layers[0].heads[0]
            let quantized = head.segments.compactMap { $0 as? KIVISegment }.reduce(0) { $0 + $1.count }
            XCTAssertEqual(quantized, 160, "kivi \(bits)")
            let codes = 2 * quantized * Self.d * bits / 8
            let keyGroups = 5 * (Self.d * 2 * 2 + 4)
            let valueGroups = quantized * (Self.d / 32) * 2 * 2
            let residual = 43 * (2 * Self.d * 2)
            XCTAssertEqual(cache.byteCount, codes + keyGroups + valueGroups + residual + 2 * 8, "kivi \(bits): a run per segment")
        }
        // Keys at 3 bits, values at 2: the same 160 quantized tokens, each row at its own width.
        let split = Self.cache(.kivi(try! KIVISettings(bits: 2, keyBits: 3, group: 32, residual: 16)), tokens: n)
        let codes = 160 * Self.d * 3 / 8 + 160 * Self.d * 2 / 8
        let scales = 5 * (Self.d * 2 * 2 + 4) + 160 * (Self.d / 32) * 2 * 2
        XCTAssertEqual(split.byteCount, codes + scales + 43 * (2 * Self.d * 2) + 2 * 8, "kivi keys 3, values 2")
    }

    func testResidualWindowStaysBetweenResidualAndResidualPlusGroup() {
        let settings = try! KIVISettings(bits: 2, group: 32, residual: 64)
        let cache = Self.cache(.kivi(settings), tokens: 10, batch: 10)
        let head = cache.layers[0].heads[0]
        let row = [Float](repeating: 0.5, count: Self.d)
        for t in 10 ..< 400 {
            head.append(key: row, value: row, position: t)
            let f16 = head.segments.compactMap { $0 as? F16Segment }.reduce(0) { $0 + $1.count }
            XCTAssertTrue((min(t + 1, 64) ..< 96).contains(f16), "\(f16) f16 tokens after \(t + 1)")
            XCTAssertEqual(head.count, t + 1, "every token is kept")
        }
        XCTAssertEqual(Array(head.positions), (0 ..< 400).map(Int32.init), "order and positions stay")
    }

    func testRoundTripErrorIsWithinEachFormatsBound() {
        let x = Self.rows(1, seed: 3, d: 32 * 64)
        for type in CacheType.allCases where type != .f16 {
            let format = type.format!
            var blocks = [UInt8](repeating: 0, count: x.count / 32 * format.blockBytes)
            var back = [Float](repeating: 0, count: x.count)
            BlockQuantizer.quantize(x, count: x.count, as: format, into: &blocks)
            blocks.withUnsafeBytes { format.dequantize(row: $0.baseAddress!, count: x.count, into: &back) }
            let levels: Float = [.q8_0: 254, .q4_0: 15, .q4_1: 15, .q5_0: 31, .q5_1: 31][type]!
            for b in 0 ..< x.count / 32 {
                let block = x[b * 32 ..< (b + 1) * 32]
                let range = type == .q8_0 || type == .q4_0 || type == .q5_0
                    ? 2 * block.map(abs).max()! : block.max()! - block.min()!
                // Half a step, a whole one where the symmetric types clamp their far side, and f16 rounding.
                let step = range / levels
                let bound = (type == .q4_0 || type == .q5_0 ? 1.01 : 0.51) * step + 2e-3 * block.map(abs).max()!
                for j in b * 32 ..< (b + 1) * 32 {
                    XCTAssertLessThanOrEqual(abs(back[j] - x[j]), bound, "\(type) element \(j)")
                }
            }
        }
        for bits in [2, 3, 4, 8] {
            var codes = [UInt8](repeating: 0, count: 64)
            let (scaleBits, zeroBits) = x.withUnsafeBufferPointer {
                AsymmetricQuantizer.quantize($0.baseAddress!, count: 64, stride: 1, bits: bits) { codes[$0] = $1 }
            }
            let scale = Float(Float16(bitPattern: scaleBits))
            let zero = Float(Float16(bitPattern: zeroBits))
            let range = x.prefix(64).max()! - x.prefix(64).min()!
            for j in 0 ..< 64 {
                let back = scale * Float(codes[j]) + zero
                XCTAssertLessThanOrEqual(abs(back - x[j]), 0.5 * scale + 2e-3 * range, "kivi \(bits) bits element \(j)")
            }
        }
    }

    func testRetainCopyAndRepositionKeepAttentionConsistent() {
        let queries = Self.rows(2, seed: 11)
        for storage in Self.storages {
            let cache = Self.cache(storage, tokens: 150)
            let copy = cache.copy()
            let kept = (0 ..< 150).filter { $0 % 3 != 1 }
            cache.retain(layer: 0, head: 0, indices: kept)
            let head = cache.layers[0].heads[0]
            XCTAssertEqual(head.count, kept.count, "\(storage)")
            XCTAssertEqual(Array(head.positions), kept.map(Int32.init), "\(storage)")
            let after = Self.attend(cache, queries: queries, at: 149, kernel: .portable)
            let expected = Self.reference(cache, queries: queries, at: 149)
            XCTAssertLessThan(zip(after, expected).map { abs($0 - $1) }.max()!, Self.tolerance(storage), "\(storage)")
            // The copy kept everything.
            XCTAssertEqual(copy.layers[0].heads[0].count, 150, "\(storage)")
            // Decoded rows survive retention (a retained token is the token it was).
            XCTAssertEqual(head.token(2).key, copy.layers[0].heads[0].token(3).key, "\(storage)")
            // Re-indexing moves tokens to new positions and rotates their keys; relative positions stay.
            let before = Self.attend(cache, queries: queries, at: 149, kernel: .portable)
            XCTAssertGreaterThan(cache.reindex(), 0)
            XCTAssertEqual(Array(cache.layers[0].heads[0].positions), (0 ..< kept.count).map(Int32.init))
            _ = before
        }
    }

    /// `sinks`: the first tokens to leave the residual window stay f16 in a segment of their own before the
    /// quantized runs, however the tokens arrive; later tokens are quantized as before; bytes count the f16 rows.
    func testKIVISinksStayF16AndLaterTokensAreQuantized() throws {
        let settings = try KIVISettings(bits: 2, group: 32, residual: 16, sinks: 5)
        for batch in [1, 3, 40, 203] {
            let cache = Self.cache(.kivi(settings), tokens: 203, batch: batch)
            let head = cache.layers[0].heads[0]
            let sinks = try XCTUnwrap(head.segments.first as? F16Segment, "batch \(batch)")
            XCTAssertEqual(Array(sinks.positions), [0, 1, 2, 3, 4], "batch \(batch)")
            let quantized = head.segments.compactMap { $0 as? KIVISegment }
            XCTAssertEqual(quantized.count, 1, "batch \(batch)")
            XCTAssertEqual(quantized[0].positions.first, 5, "batch \(batch): quantizing starts after the sinks")
            XCTAssertEqual(Array(head.positions), (0 ..< 203).map(Int32.init), "batch \(batch): order stays")
            let keys = Self.rows(203, seed: 1)
            for t in 0 ..< 5 {
                let exact = keys[t * Self.d ..< (t + 1) * Self.d].map { Float(Float16($0)) }
                XCTAssertEqual(sinks.key(t), exact, "batch \(batch): sink \(t) is the f16 key")
            }
            // The sinks fill the first group's first slots: a group of 27, then 4 of 32 (155 tokens), 43 in the
            // window (16 ≤ 43 < 48) as without sinks.
            XCTAssertEqual(quantized[0].count, 155, "batch \(batch)")
            let kivi = 2 * 155 * Self.d * 2 / 8 + 5 * (Self.d * 2 * 2 + 4) + 155 * (Self.d / 32) * 2 * 2
            let f16 = (5 + 43) * 2 * Self.d * 2
            XCTAssertEqual(cache.byteCount, kivi + f16 + 3 * 8, "batch \(batch): a run of positions per segment")
        }
        let unchanged = Self.cache(.kivi(try KIVISettings(bits: 2, group: 32, residual: 16)), tokens: 203)
        XCTAssertFalse(unchanged.layers[0].heads[0].segments.first is F16Segment, "no sinks by default")
        let press = try PressRegistry.make("kivi:bits=2,sinks=4,fit=mse", ratio: 0)
        XCTAssertEqual(press.description, "kivi:bits=2,group=32,residual=128,sinks=4,fit=mse")
        XCTAssertEqual(try PressRegistry.make("kivi:bits=2", ratio: 0).description, "kivi:bits=2,group=32,residual=128")
    }

    /// `rotate=1`: rows are stored Hadamard-rotated, read back in the model's frame, and an outlier channel no longer
    /// sets a value group's range: on rows with one wide channel in 16 the values' round-trip error drops; heads whose
    /// dimension is not a power of 2 are refused.
    func testRotatedKIVIReadsBackInTheModelsFrameWithSmallerValueError() throws {
        func valueError(rotate: Bool) throws -> Float {
            let cache = Self.cache(.kivi(try KIVISettings(bits: 2, group: 32, residual: 0, rotate: rotate)), tokens: 64)
            let head = cache.layers[0].heads[0]
            let values = Self.rows(64, seed: 101)
            return (0 ..< 64).map { t in
                zip(head.token(t).value, values[t * Self.d ..< (t + 1) * Self.d]).map { ($0 - $1) * ($0 - $1) }
                    .reduce(0, +)
            }.reduce(0, +)
        }
        let plain = try valueError(rotate: false)
        let rotated = try valueError(rotate: true)
        XCTAssertLessThan(rotated, 0.8 * plain, "rotated \(rotated), plain \(plain)")
        XCTAssertThrowsError(try KVStorage.kivi(KIVISettings(group: 16, rotate: true)).check(dimension: 48)) {
            XCTAssertEqual("\($0)", "kivi rotate=1 needs a power-of-2 head dimension, got 48")
        }
        XCTAssertEqual(try PressRegistry.make("kivi:bits=2,rotate=1", ratio: 0).description,
                       "kivi:bits=2,group=32,residual=128,rotate=1")
    }

    /// One group through `AsymmetricQuantizer`: its codes, and scale and zero point as stored (f16).
    static func quantized(_ x: [Float], bits: Int, fit: RangeFit) -> (codes: [UInt8], scale: Float, zero: Float) {
        var codes = [UInt8](repeating: 0, count: x.count)
        let (scaleBits, zeroBits) = x.withUnsafeBufferPointer {
            AsymmetricQuantizer.quantize($0.baseAddress!, count: x.count, stride: 1, bits: bits, fit: fit) {
                codes[$0] = $1
            }
        }
        return (codes, Float(Float16(bitPattern: scaleBits)), Float(Float16(bitPattern: zeroBits)))
    }

    /// `fit=mse`: never a larger squared error than min–max on any group, far smaller on a group with one
    /// outlying value at 2 bits (the range that clips it wins), none on a constant group.
    func testLeastSquaresRangeIsNeverWorseThanMinMax() {
        func error(_ x: [Float], bits: Int, fit: RangeFit) -> Float {
            let (codes, scale, zero) = Self.quantized(x, bits: bits, fit: fit)
            return zip(x, codes).reduce(0) { sum, pair in
                let e = pair.0 - (scale * Float(pair.1) + zero)
                return sum + e * e
            }
        }
        for seed in 0 ..< 200 {
            let x = Array(Self.rows(1, seed: seed).prefix(32))
            for bits in [2, 3, 4, 8] {
                let minMax = error(x, bits: bits, fit: .minMax)
                XCTAssertLessThanOrEqual(error(x, bits: bits, fit: .meanSquare), minMax, "seed \(seed), \(bits) bits")
            }
        }
        var outlier = (0 ..< 32).map { Float($0 % 8) / 8 }
        outlier[5] = 12
        XCTAssertLessThan(error(outlier, bits: 2, fit: .meanSquare), 0.5 * error(outlier, bits: 2, fit: .minMax))
        let constant = [Float](repeating: 0.75, count: 32)
        XCTAssertEqual(error(constant, bits: 2, fit: .meanSquare), 0)
    }

    /// Every code is (x − zero)/scale rounded to nearest with halves away from zero (`rounded()`, which the
    /// quantizer no longer calls), clamped to the levels: on groups whose steps make exact halves, and on random ones.
    func testCodesRoundHalvesAwayFromZeroAndClampToTheLevels() {
        func check(_ x: [Float], bits: Int, fit: RangeFit, _ label: String) {
            let (codes, scale, zero) = Self.quantized(x, bits: bits, fit: fit)
            let levels = Float((1 << bits) - 1)
            for (value, code) in zip(x, codes) {
                let expected = scale > 0 ? min(max(((value - zero) / scale).rounded(), 0), levels) : 0
                XCTAssertEqual(Float(code), expected, "\(label): \(value) with zero \(zero), scale \(scale)")
            }
        }
        for bits in [2, 3, 4, 8] {
            let levels = Float((1 << bits) - 1)
            // Zero −3 and scale 1 exactly: every half step is an exact tie.
            let halves = (0 ... Int(2 * levels)).map { Float($0) / 2 - 3 }
            check(halves, bits: bits, fit: .minMax, "halves, \(bits) bits")
            check([0, 0, 0], bits: bits, fit: .minMax, "constant")
            for seed in 0 ..< 50 {
                let x = Array(Self.rows(1, seed: seed).prefix(32))
                check(x, bits: bits, fit: .minMax, "seed \(seed), \(bits) bits")
                check(x, bits: bits, fit: .meanSquare, "seed \(seed), \(bits) bits, fitted")
            }
        }
    }

    func testBadSettingsAreOneLineErrors() {
        XCTAssertThrowsError(try KIVISettings(bits: 5)) { XCTAssertEqual("\($0)", "bits must be 2, 3, 4 or 8, got 5") }
        XCTAssertThrowsError(try KIVISettings(group: 0)) {
            XCTAssertEqual("\($0)", "group must be a multiple of 8 from 8 to 4096, got 0")
        }
        XCTAssertThrowsError(try KIVISettings(residual: -1)) {
            XCTAssertEqual("\($0)", "residual must be between 0 and 1048576 tokens, got -1")
        }
        XCTAssertThrowsError(try KIVISettings(bits: 2, keyBits: 6)) {
            XCTAssertEqual("\($0)", "keybits must be 2, 3, 4 or 8, got 6")
        }
        XCTAssertEqual(try KIVISettings(bits: 2, keyBits: 3).description, "kivi:bits=2,group=32,residual=128,keybits=3")
        XCTAssertEqual(try KIVISettings(bits: 2, keyBits: 2).description, "kivi:bits=2,group=32,residual=128")
        XCTAssertEqual(try PressRegistry.make("kivi:bits=2,keybits=4", ratio: 0.5).storage,
                       .kivi(try KIVISettings(bits: 2, keyBits: 4)))
        XCTAssertThrowsError(try KIVISettings(sinks: -4)) {
            XCTAssertEqual("\($0)", "sinks must be between 0 and 1048576 tokens, got -4")
        }
        XCTAssertThrowsError(try KVStorage.kivi(KIVISettings(group: 48)).check(dimension: 64)) {
            XCTAssertEqual("\($0)", "kivi group 48 does not divide the head dimension 64")
        }
        XCTAssertThrowsError(try CacheType.parse("q3_k")) {
            XCTAssertEqual("\($0)", "unknown cache type 'q3_k'; choose one of f16, q8_0, q4_0, q4_1, q5_0, q5_1")
        }
        XCTAssertThrowsError(try KVStorage.cacheTypes(key: .q4_0, value: .f16).check(dimension: 16))
        XCTAssertEqual(try CacheType.parse("Q8_0"), .q8_0)
        let specs = ["kivi:bits=5", "kivi:group=0", "kivi:residual=-1", "kivi:bits=2.5", "kivi:depth=3",
                     "kivi:sinks=-1", "kivi:fit=best", "kivi:sinks=x", "kivi:sinks=99999999999", "kivi:rotate=2",
                     "kivi:keybits=5", "kivi:keybits=-2"]
        for spec in specs {
            XCTAssertThrowsError(try PressRegistry.make(spec, ratio: 0.5), spec) { error in
                XCTAssertFalse("\(error)".contains("\n"), spec)
            }
        }
    }
}

/// Precision presses on the tiny model: storage set before prefill, composed with eviction, generation goes on.
final class PrecisionPressTests: TinyModelTestCase {
    func testKIVIQuantizesDuringPrefillAndComposesWithEviction() throws {
        let prompt = tokens(300)
        let plain = try engine.generate(prompt: prompt, maxTokens: 4, sampling: .greedy)
        let kivi = try PressRegistry.make("kivi:bits=4,group=8,residual=32", ratio: 0.5)
        let quantized = try engine.generate(prompt: prompt, maxTokens: 4, sampling: .greedy, press: kivi)
        // 16-value heads pay a lot for scales: 36.5 bytes a token against f16's 68.
        XCTAssertLessThan(quantized.statistics.cacheBytesAfterPrompt, plain.statistics.cacheBytesAfterPrompt * 6 / 10)
        // Quantized as appended: prefill never held the whole prompt in f16.
        XCTAssertLessThan(quantized.statistics.peakCacheBytes, plain.statistics.peakCacheBytes * 6 / 10)
        let composed = try PressRegistry.make("snapkv@0.5+kivi:bits=2,group=8,residual=32", ratio: 0.5)
        XCTAssertEqual(composed.storage, .kivi(try KIVISettings(bits: 2, group: 8, residual: 32)))
        let cache = engine.makeCache()
        let result = try engine.generate(prompt: prompt, maxTokens: 4, sampling: .greedy, cache: cache, press: composed)
        XCTAssertEqual(result.tokens.count, 4)
        for layer in cache.layers {
            for head in layer.heads {
                XCTAssertEqual(head.storage, composed.storage)
                XCTAssertEqual(head.count, 150 + 3, "snapkv kept half of the prompt, then 3 generated tokens")
                XCTAssertTrue(head.segments.contains { $0 is KIVISegment })
            }
        }
    }

    func testKIVIAppliedAfterPrefillQuantizesWhatIsThere() throws {
        let cache = try prefilled(tokens(200))
        let before = cache.byteCount
        try PressRegistry.make("kivi:bits=2,group=16,residual=0", ratio: 0).compress(cache)
        XCTAssertEqual(cache.retainedTokens, 2 * 2 * 200, "every token is kept")
        XCTAssertLessThan(cache.byteCount, before / 3)
        XCTAssertLessThan(cache.bitsPerElement, 6)
        _ = try engine.model.forward(tokens: [5], cache: cache, logits: .lastToken)
        XCTAssertEqual(cache.layers[1].heads[1].count, 201)
    }

    func testMixedPrecisionPressesKeepEveryTokenAndDemoteWhatTheirRuleWouldEvict() throws {
        let prompt = tokens(240)
        for spec in ["mikv@0.5:group=8", "mikv(tova)@0.75:low=4,high=8,group=16", "zipcache@0.5:group=8",
                     "zipvl:tau=0.5,group=8", "mikv@0.5:group=8,fit=mse", "mikv@0.5:group=8,rotate=1",
                     "mikv@0.5:group=8,keybits=3"] {
            let press = try PressRegistry.make(spec, ratio: 0.5)
            let cache = try prefilled(prompt, for: press)
            let full = cache.byteCount
            // What the eviction rule alone would keep, on a copy.
            let decision = cache.copy()
            try press.compress(cache)
            XCTAssertEqual(cache.retainedTokens, 2 * 2 * 240, "\(spec): every token is kept")
            XCTAssertLessThan(cache.byteCount, full, spec)
            for (l, layer) in cache.layers.enumerated() {
                for (h, head) in layer.heads.enumerated() {
                    let precise = head.segments.first { $0.count > 0 && !($0 is KIVISegment) } ?? head.segments[1]
                    XCTAssertEqual(Set(head.positions).count, 240, spec)
                    let demoted = head.segments.compactMap { $0 as? KIVISegment }
                    XCTAssertFalse(demoted.isEmpty, spec)
                    XCTAssertTrue(demoted.allSatisfy { $0.settings.rotate == spec.hasSuffix("rotate=1") }, spec)
                    if spec.hasSuffix("keybits=3") {
                        XCTAssertTrue(demoted.allSatisfy { $0.settings.keyBits == 3 && $0.settings.bits == 2 }, spec)
                    }
                    XCTAssertEqual(Array(precise.positions), Array(precise.positions).sorted(), spec)
                    if spec.hasPrefix("mikv@") {
                        // The high-precision tokens are exactly the ones snapkv keeps.
                        let snap = try PressRegistry.make("snapkv@0.5", ratio: 0.5)
                        let kept = decision.copy()
                        try snap.compress(kept)
                        XCTAssertEqual(Set(precise.positions), Set(kept.layers[l].heads[h].positions), "\(spec) \(l)/\(h)")
                    }
                }
            }
            _ = try engine.model.forward(tokens: [5, 6], cache: cache, logits: .lastToken)  // decoding goes on
            XCTAssertEqual(cache.layers[0].heads[0].count, 242, spec)
        }
        // A fitted range stores the same tokens in the same bytes, with other codes.
                let caches = try ["mikv@0.5:group=8", "mikv@0.5:group=8,fit=mse"].map { spec in
            let cache = try prefilled(prompt, for: try PressRegistry.make(spec, ratio: 0.5))
            try PressRegistry.make(spec, ratio: 0.5).compress(cache)
            return cache
        }
        XCTAssertEqual(caches[0].byteCount, caches[1].byteCount)
        let quantizedKeys = caches.map { cache in
            cache.layers[0].heads[0].segments.compactMap { $0 as? KIVISegment }.flatMap { segment in
                (0 ..< segment.count).flatMap { segment.key($0) }
            }
        }
        XCTAssertEqual(quantizedKeys[0].count, quantizedKeys[1].count)
        XCTAssertNotEqual(quantizedKeys[0], quantizedKeys[1])
        XCTAssertEqual(try PressRegistry.make("mikv:fit=mse", ratio: 0.5).description,
                       "mikv(snapkv@0.5):high=f16,low=2-bit,fit=mse")
        XCTAssertEqual(try PressRegistry.make("mikv:rotate=1", ratio: 0.5).description,
                       "mikv(snapkv@0.5):high=f16,low=2-bit,rotate=1")
        XCTAssertEqual(try PressRegistry.make("mikv:rotate=1,keybits=3", ratio: 0.5).description,
                       "mikv(snapkv@0.5):high=f16,low=2-bit,rotate=1,keybits=3")
        // Keys one width up cost exactly their extra codes: a bit per demoted key element.
        let widths = try ["mikv@0.5:group=8", "mikv@0.5:group=8,keybits=3"].map { spec in
            let cache = try prefilled(prompt, for: try PressRegistry.make(spec, ratio: 0.5))
            try PressRegistry.make(spec, ratio: 0.5).compress(cache)
            return cache
        }
        let demotedKeys = widths[0].layers.flatMap(\.heads).flatMap { $0.segments.compactMap { $0 as? KIVISegment } }
            .reduce(0) { $0 + $1.count * $1.headDimension }
        XCTAssertEqual(widths[1].byteCount - widths[0].byteCount, demotedKeys / 8)
        XCTAssertThrowsError(try PressRegistry.make("mikv:keybits=5", ratio: 0.5)) {
            XCTAssertEqual("\($0)", "invalid press parameter mikv: keybits must be 2, 3, 4 or 8, got 5")
        }
        for bad in ["mikv:low=5", "mikv:high=1", "zipcache:low=7", "zipvl:group=12", "zipvl:high=4.5", "mikv:fit=l1",
                    "mikv:rotate=2", "mikv:keybits=-1"] {
            XCTAssertThrowsError(try PressRegistry.make(bad, ratio: 0.5).compress(try prefilled(tokens(40))), bad) {
                XCTAssertFalse("\($0)".contains("\n"), bad)
            }
        }
    }

    func testCacheTypePressParsesTypesAndRefusesWhatIsNotOne() throws {
        let press = try PressRegistry.make("cache-type:k=q4_0,v=Q8_0,rotate=1", ratio: 0.5)
        XCTAssertEqual(press.storage, .cacheTypes(key: .q4_0, value: .q8_0, rotated: true))
        XCTAssertEqual(try PressRegistry.make("cache-type", ratio: 0.5).storage, .cacheTypes(key: .q8_0, value: .q8_0))
        XCTAssertThrowsError(try PressRegistry.make("cache-type:k=4", ratio: 0.5)) {
            XCTAssertEqual("\($0)", "invalid press parameter k: expected one of f16, q8_0, q4_0, q4_1, q5_0, q5_1")
        }
        XCTAssertThrowsError(try PressRegistry.make("cache-type:k=q3_k", ratio: 0.5)) {
            XCTAssertEqual("\($0)", "invalid press parameter k: 'q3_k' is none of f16, q8_0, q4_0, q4_1, q5_0, q5_1")
        }
        XCTAssertThrowsError(try PressRegistry.make("snapkv:window=big", ratio: 0.5)) {
            XCTAssertTrue("\($0)".contains("expected a number"), "\($0)")
        }
        // The tiny model's 16-value heads cannot hold 32-value blocks.
        XCTAssertThrowsError(try press.compress(try prefilled(tokens(20))))
    }

    func testCacheTypesOnAModelWith32DimensionHeads() throws {
        var tiny = TinyModel()
        tiny.heads = 2
        tiny.kvHeads = 1
        let engine = try InferenceEngine(modelPath: try tiny.write())
        let prompt = Array(engine.tokenizer.encode(String(repeating: "hello world ", count: 40)).prefix(120))
        let plain = try engine.generate(prompt: prompt, maxTokens: 6, sampling: .greedy)
        try engine.useCacheStorage(.cacheTypes(key: .q8_0, value: .q8_0))
        let q8 = try engine.generate(prompt: prompt, maxTokens: 6, sampling: .greedy)
        XCTAssertEqual(q8.statistics.cacheBytesAfterPrompt, 2 * (120 * 2 * 34 + 8), "rows and one run of positions a head")
        XCTAssertEqual(q8.tokens.count, 6)
        _ = plain
        // The tiny model's 16-value heads cannot hold 32-value blocks: a one-line error, not a crash.
        XCTAssertThrowsError(try self.engine.useCacheStorage(.cacheTypes(key: .q4_0, value: .q4_0))) {
            XCTAssertEqual("\($0)", "cache type q4_0 needs a head dimension divisible by 32, not 16")
        }
    }
}

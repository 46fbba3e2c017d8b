import Engine
import Evaluation
import KVCache
import Presses

/// A request's `kv_compression`, checked: the press it names (made afresh for each request, as presses keep
/// per-cache state), how its cache stores tokens, and a key under which its compressed caches are reused.
struct CompressionChoice: Sendable {
    let request: KVCompressionRequest
    let storage: KVStorage
    /// A memory or KL target for the allocator, when one is asked for.
    let target: CompressionTarget?
    /// Everything that makes two caches of the same tokens differ: only requests with the same key share caches.
    let key: String

    /// What the response's `kv_cache.applied` says.
    var applied: String {
        var parts: [String] = []
        if let press = request.press {
            parts.append(request.budget.map { "\(press) (budget \($0))" } ?? "\(press) @ ratio \(ratio)")
        }
        if let target { parts.append("target \(target)") }
        if storage != .f16 { parts.append("cache types \(storage)") }
        return parts.isEmpty ? "none" : parts.joined(separator: "; ")
    }

    var hasPress: Bool { request.press != nil || target != nil }
    var ratio: Double { request.ratio ?? 0.5 }

    /// Checks `request` without a model (presses that read a head profile are built against a placeholder).
    init(_ request: KVCompressionRequest, headDimension: Int) throws {
        func invalid(_ message: String, _ field: String) -> APIError {
            .invalid(message, param: "kv_compression." + field)
        }
        self.request = request
        let hasTarget = request.kv_memory != nil || request.max_kl != nil
        if hasTarget, request.press != nil { throw invalid("give either press or a target (kv_memory, max_kl)", "press") }
        if request.kv_memory != nil, request.max_kl != nil { throw invalid("give either kv_memory or max_kl", "max_kl") }
        if request.press == nil {
            if request.ratio != nil { throw invalid("ratio needs a press to choose the tokens it removes", "ratio") }
            if request.budget != nil { throw invalid("budget needs a press to choose the tokens it keeps", "budget") }
        }
        if request.ratio != nil, request.budget != nil { throw invalid("give either ratio or budget", "budget") }
        if let budget = request.budget, budget < 1 { throw invalid("budget must be at least 1 token", "budget") }
        if request.retrieval_prior != nil, !hasTarget {
            throw invalid("retrieval_prior needs kv_memory or max_kl", "retrieval_prior")
        }
        if request.retrieval_heads != nil, !hasTarget {
            throw invalid("retrieval_heads needs kv_memory or max_kl", "retrieval_heads")
        }
        do {
            if let memory = request.kv_memory {
                target = try CompressionTarget.memory(memory, option: "kv_compression.kv_memory")
            } else if let kl = request.max_kl {
                target = try CompressionTarget.klBound(kl, option: "kv_compression.max_kl")
            } else {
                target = nil
            }
        } catch {
            throw invalid("\(error)", request.kv_memory != nil ? "kv_memory" : "max_kl")
        }
        do {
            let keyType = try request.cache_type_k.map(CacheType.parse) ?? .f16
            let valueType = try request.cache_type_v.map(CacheType.parse) ?? .f16
            let rotate = request.kv_rotate ?? false
            if rotate, keyType == .f16, valueType == .f16 {
                throw invalid("kv_rotate rotates quantized rows; give cache_type_k or cache_type_v too", "kv_rotate")
            }
            storage = .cacheTypes(key: keyType, value: valueType, rotated: rotate)
            try storage.check(dimension: headDimension)
        } catch let error as KVStorageError {
            throw invalid(error.description, request.cache_type_k != nil ? "cache_type_k" : "cache_type_v")
        }
        if storage != .f16, let press = request.press ?? (hasTarget ? "target" : nil) {
            let precision = PressRegistry.names(of: .precision) + PressRegistry.names(of: .target) + ["target"]
            if precision.contains(where: { press.range(of: "\\b\($0)\\b", options: .regularExpression) != nil }) {
                throw invalid("'\(press)' chooses how the cache is stored; drop cache_type_k/cache_type_v", "press")
            }
        }
        var key = "storage=\(storage)"
        if let press = request.press {
            key += ";press=\(press);ratio=\(request.ratio ?? 0.5);budget=\(request.budget ?? 0)"
        }
        if let target {
            key += ";target=\(target);prior=\(request.retrieval_prior ?? TargetPress.Defaults.retrievalPrior)"
            key += ";heads=\(request.retrieval_heads ?? TargetPress.Defaults.retrievalHeads)"
        }
        self.key = key
        _ = try makePress(profile: { HeadProfile.placeholder }, reserve: 0)
    }

    /// The press for one request (nil: none), reading the model's head profile only when the press needs it.
    /// - Parameter reserve: generated tokens a memory target keeps room for.
    func makePress(profile: () throws -> HeadProfile, reserve: Int) throws -> (any KVPress)? {
        do {
            if let target {
                let prior = request.retrieval_prior ?? TargetPress.Defaults.retrievalPrior
                let headProfile = try profile()
                return try TargetPress(target: target, sensitivity: headProfile.sensitivity, reserveTokens: reserve,
                                       retrievalPrior: prior, retrieval: headProfile.retrieval,
                                       retrievalHeads: request.retrieval_heads ?? TargetPress.Defaults.retrievalHeads)
            }
            guard let press = request.press else { return nil }
            if let budget = request.budget {
                return try BudgetPress(scorer: try PressRegistry.scorer(press, ratio: 0), budget: budget)
            }
            let headProfile = PressRegistry.needsProfile(press) ? try profile() : nil
            return try PressRegistry.make(press, ratio: ratio, profile: headProfile)
        } catch let error as APIError {
            throw error
        } catch {
            throw APIError.invalid("\(error)", param: "kv_compression.press")
        }
    }

    /// Whether the press needs the model's head profile (measured once per model file: minutes on first use).
    var needsProfile: Bool {
        target != nil || request.press.map(PressRegistry.needsProfile) == true
    }

    /// The share of a dense f16 cache a request's compressed prompt is expected to keep, for admission before it
    /// has run: the press's kept share, or the target's, times the storage's bits.
    var expectedShare: Double {
        if case .share(let share)? = target { return min(1, share) }
        let kept = request.press != nil && request.budget == nil ? 1 - ratio : 1
        return kept * storageShare
    }

    /// The share of f16's bytes a token takes when it is appended uncompressed (the cache types' bits; 1 for f16).
    var storageShare: Double {
        guard case .cacheTypes(let key, let value, _) = storage else { return 1 }
        return (key.bitsPerValue + value.bitsPerValue) / 32
    }
}

extension CompressionChoice {
    /// Whether the head profile must hold the target allocator's sensitivities.
    var needsSensitivity: Bool {
        target != nil || request.press.map(PressRegistry.needsSensitivity) == true
    }
}

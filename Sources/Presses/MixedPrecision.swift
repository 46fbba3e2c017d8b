import KVCache

/// Turns an eviction decision into a precision decision, the step MiKV, ZipCache and ZipVL share: the press
/// decides on a copy of the cache which tokens it would keep; in the cache itself those stay at `high` precision
/// and the ones it would drop are kept at `low` precision instead of being lost.
enum MixedPrecision {
    /// `name`: the precision press's, for an error naming what does not fit this model's heads.
    static func apply(_ cache: KVCache, deciding press: any KVPress, high: TokenPrecision, low: TokenPrecision,
                      codes: CodeSettings, name: String) throws {
        do {
            try codes.check(dimension: cache.headDimension)
        } catch let error as KVStorageError {
            throw PressError.invalidParameter(name: name, reason: error.description)
        }
        let decision = cache.copy()
        try press.compress(decision)
        for (l, layer) in cache.layers.enumerated() {
            for h in layer.heads.indices {
                let kept = Set(decision.layers[l].heads[h].positions)
                let positions = layer.heads[h].positions
                let important = Set(positions.indices.filter { kept.contains(positions[$0]) })
                cache.storeMixed(layer: l, head: h, important: important, high: high, low: low, codes: codes)
            }
        }
    }

    /// The precisions of a press's `high` and `low` parameters.
    static func precisions(_ arguments: PressArguments, press: String) throws -> (high: TokenPrecision, low: TokenPrecision) {
        do {
            let high = try TokenPrecision.parse(try arguments.integer("high"), name: "high")
            let low = try TokenPrecision.parse(try arguments.integer("low"), name: "low")
            return (high, low)
        } catch let error as KVStorageError {
            throw PressError.invalidParameter(name: press, reason: error.description)
        }
    }
}

/// Token candidates for the next position: ids with logits, narrowed by processors.
public struct TokenCandidates: Sendable {
    public var ids: [Int]
    public var logits: [Float]

    public init(logits: [Float]) {
        self.ids = Array(logits.indices)
        self.logits = logits
    }

    public var count: Int { ids.count }

    /// Sorts by logit, highest first (stable on ties by id).
    public mutating func sortDescending() {
        let order = ids.indices.sorted { logits[$0] != logits[$1] ? logits[$0] > logits[$1] : ids[$0] < ids[$1] }
        ids = order.map { ids[$0] }
        logits = order.map { logits[$0] }
    }

    /// Keeps the first `count` candidates.
    public mutating func truncate(to count: Int) {
        guard count < ids.count else { return }
        ids.removeSubrange(count...)
        logits.removeSubrange(count...)
    }

    /// Softmax probabilities of the current logits.
    public func probabilities() -> [Float] {
        guard let maximum = logits.max() else { return [] }
        let e = logits.map { ($0 - maximum).exponential }
        let sum = e.reduce(0, +)
        return e.map { $0 / sum }
    }
}

extension Float {
    var exponential: Float {
        #if canImport(Glibc)
        return Glibc.expf(self)
        #else
        return Darwin.expf(self)
        #endif
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

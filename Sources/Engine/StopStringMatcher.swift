/// Watches generated text for stop strings. Text that might be the start of a stop string is held back,
/// so a stream never shows part of one.
public struct StopStringMatcher: Sendable {
    public let stops: [String]
    private var held = ""

    public init(stops: [String]) { self.stops = stops.filter { !$0.isEmpty } }

    /// Adds new text. Returns the text safe to emit and whether a stop string was reached
    /// (the stop string and anything after it are dropped).
    public mutating func feed(_ text: String) -> (emit: String, stopped: Bool) {
        held += text
        guard !stops.isEmpty else { defer { held = "" }; return (held, false) }
        if let range = stops.compactMap({ held.range(of: $0) }).min(by: { $0.lowerBound < $1.lowerBound }) {
            let emit = String(held[..<range.lowerBound])
            held = ""
            return (emit, true)
        }
        // Hold back the longest suffix that is a prefix of some stop string.
        var keep = 0
        for stop in stops {
            for length in stride(from: min(stop.count - 1, held.count), to: 0, by: -1) where held.hasSuffix(stop.prefix(length)) {
                keep = max(keep, length)
                break
            }
        }
        let emit = String(held.dropLast(keep))
        held = String(held.suffix(keep))
        return (emit, false)
    }

    /// Text still held at the end of generation.
    public mutating func flush() -> String { defer { held = "" }; return held }
}

import Foundation

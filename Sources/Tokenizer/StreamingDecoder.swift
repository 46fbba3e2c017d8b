/// Turns a stream of token bytes into text without ever emitting a broken UTF-8 sequence:
/// an incomplete trailing sequence waits for the next token's bytes.
public struct StreamingDecoder: Sendable {
    private var pending: [UInt8] = []

    public init() {}

    /// Adds bytes; returns the text that is now complete.
    public mutating func append(_ bytes: [UInt8]) -> String {
        pending += bytes
        let complete = Self.completePrefixLength(pending)
        guard complete > 0 else { return "" }
        let text = String(decoding: pending[..<complete], as: UTF8.self)
        pending.removeFirst(complete)
        return text
    }

    /// Whatever is left (an unfinished sequence becomes U+FFFD).
    public mutating func flush() -> String {
        defer { pending = [] }
        return pending.isEmpty ? "" : String(decoding: pending, as: UTF8.self)
    }

    /// Length of the prefix that does not end inside a UTF-8 sequence that more bytes could still complete.
    static func completePrefixLength(_ bytes: [UInt8]) -> Int {
        let n = bytes.count
        // Look back at most 3 bytes for a lead byte whose sequence is not finished yet.
        var i = n - 1
        while i >= 0 && i >= n - 4 {
            let b = bytes[i]
            if b & 0xC0 != 0x80 {  // a lead byte or ASCII
                let needed = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1
                return n - i < needed && b >= 0xC0 && b < 0xF8 ? i : n
            }
            i -= 1
        }
        return n
    }
}

import Foundation

/// Where each field of a well-formed GGUF file lies, so a mutation test can corrupt one field at a time.
/// Long arrays contribute only their first two and last elements: the other elements add cases, not coverage.
struct GGUFFieldMap {
    enum Kind {
        /// A little-endian count, length, offset, dimension or scalar value.
        case number
        /// A GGUF value type id (metadata) or GGML type id (tensor).
        case valueType, tensorType
        /// The first byte of a key or tensor name.
        case nameByte
    }

    struct Field {
        let offset: Int
        let size: Int
        let kind: Kind
        let label: String
        let originalBytes: [UInt8]

        var originalValue: UInt64 {
            originalBytes.reversed().reduce(0) { $0 << 8 | UInt64($1) }
        }
    }

    private(set) var fields: [Field] = []
    /// Where the tensor directory ends (the data section follows, after padding).
    var directoryEnd: Int { fields.last.map { $0.offset + $0.size } ?? 0 }
    private let bytes: [UInt8]
    private var cursor = 0

    init(_ data: Data) {
        bytes = Array(data)
        walk()
    }

    private mutating func walk() {
        skip(4)  // magic
        note(4, .number, "version")
        let tensorCount = note(8, .number, "tensor count")
        let keyCount = note(8, .number, "metadata count")
        for _ in 0 ..< keyCount {
            let key = name("key")
            let type = note(4, .valueType, "type of \(key)")
            value(type: type, label: key, recorded: true)
        }
        for _ in 0 ..< tensorCount {
            let tensor = name("tensor")
            let dimensions = note(4, .number, "dimension count of \(tensor)")
            for d in 0 ..< dimensions { note(8, .number, "dimension \(d) of \(tensor)") }
            note(4, .tensorType, "type of \(tensor)")
            note(8, .number, "offset of \(tensor)")
        }
    }

    private mutating func name(_ what: String) -> String {
        let length = note(8, .number, "\(what) length")
        let text = String(decoding: bytes[cursor ..< cursor + length], as: UTF8.self)
        let first = Array(bytes[cursor ..< cursor + min(1, length)])
        if !first.isEmpty {
            fields.append(Field(offset: cursor, size: 1, kind: .nameByte, label: "first byte of \(text)", originalBytes: first))
        }
        skip(length)
        return text
    }

    private mutating func value(type: Int, label: String, recorded: Bool) {
        let scalarSizes = [0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8]
        if let size = scalarSizes[type] {
            if recorded { note(size, .number, "value of \(label)") } else { skip(size) }
        } else if type == 8 {
            let length = recorded ? note(8, .number, "string length of \(label)") : read(8)
            skip(length)
        } else {
            let elementType = note(4, .valueType, "element type of \(label)")
            let count = note(8, .number, "length of \(label)")
            for i in 0 ..< count {
                value(type: elementType, label: "\(label)[\(i)]", recorded: i < 2 || i == count - 1)
            }
        }
    }

    @discardableResult
    private mutating func note(_ size: Int, _ kind: Kind, _ label: String) -> Int {
        let original = Array(bytes[cursor ..< cursor + size])
        fields.append(Field(offset: cursor, size: size, kind: kind, label: label, originalBytes: original))
        return read(size)
    }

    private mutating func read(_ size: Int) -> Int {
        var value: UInt64 = 0
        for i in (0 ..< size).reversed() { value = value << 8 | UInt64(bytes[cursor + i]) }
        cursor += size
        return Int(truncatingIfNeeded: value)
    }

    private mutating func skip(_ size: Int) { cursor += size }
}

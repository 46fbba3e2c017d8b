/// Bounds-checked little-endian reads from a byte buffer; every read past the end is a `.truncated` error.
struct ByteCursor {
    let bytes: UnsafeRawBufferPointer
    var offset: Int = 0

    private func require(_ count: Int, _ what: @autoclosure () -> String) throws {
        guard count >= 0, offset <= bytes.count, bytes.count - offset >= count else {
            throw GGUFError.truncated(what: what(), offset: offset, needed: count, fileSize: bytes.count)
        }
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws -> T {
        try require(MemoryLayout<T>.size, what())
        let value = bytes.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += MemoryLayout<T>.size
        return T(littleEndian: value)
    }

    mutating func readFloat(_ what: @autoclosure () -> String) throws -> Float {
        Float(bitPattern: try read(UInt32.self, what()))
    }

    mutating func readDouble(_ what: @autoclosure () -> String) throws -> Double {
        Double(bitPattern: try read(UInt64.self, what()))
    }

    /// A GGUF string: u64 length, then UTF-8 bytes (no terminator).
    mutating func readString(_ what: @autoclosure () -> String) throws -> String {
        let length = try read(UInt64.self, what())
        guard length <= UInt64(bytes.count) else {
            throw GGUFError.truncated(what: what(), offset: offset, needed: Int(clamping: length), fileSize: bytes.count)
        }
        try require(Int(length), what())
        let slice = UnsafeRawBufferPointer(rebasing: bytes[offset ..< offset + Int(length)])
        offset += Int(length)
        guard let string = String(validating: slice, as: UTF8.self) else { throw GGUFError.invalidUTF8(what: what()) }
        return string
    }
}

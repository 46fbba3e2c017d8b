import Foundation

/// Builds GGUF files in memory. Tests use it to make tiny random models and deliberately broken files,
/// so it writes exactly what it is given: duplicate keys and odd offsets are allowed on purpose.
public struct GGUFWriter {
    public struct Tensor {
        public var name: String
        public var dimensions: [Int]
        public var typeID: UInt32
        public var data: [UInt8]
        /// Overrides the computed data offset (for broken-file fixtures).
        public var offsetOverride: UInt64?
    }

    public var version: UInt32 = 3
    public var alignment: Int = GGUFFile.defaultAlignment
    public private(set) var metadata: [(key: String, value: GGUFValue)] = []
    public private(set) var tensors: [Tensor] = []

    public init() {}

    public mutating func add(_ key: String, _ value: GGUFValue) { metadata.append((key, value)) }

    /// Replaces the value of `key` where it stands, or adds it at the end.
    public mutating func set(_ key: String, _ value: GGUFValue) {
        guard let index = metadata.firstIndex(where: { $0.key == key }) else { return add(key, value) }
        metadata[index].value = value
    }

    public mutating func add(_ key: String, strings: [String]) {
        add(key, .array(elementType: .string, strings.map { .string($0) }))
    }

    public mutating func add(_ key: String, int32s: [Int32]) {
        add(key, .array(elementType: .int32, int32s.map { .int32($0) }))
    }

    public mutating func add(_ key: String, floats: [Float]) {
        add(key, .array(elementType: .float32, floats.map { .float32($0) }))
    }

    public mutating func addTensor(_ name: String, dimensions: [Int], type: GGMLType, data: [UInt8], offsetOverride: UInt64? = nil) {
        tensors.append(Tensor(name: name, dimensions: dimensions, typeID: type.rawValue, data: data, offsetOverride: offsetOverride))
    }

    public mutating func addTensor(_ name: String, dimensions: [Int], floats: [Float]) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(floats.count * 4)
        for f in floats { withUnsafeBytes(of: f.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
        addTensor(name, dimensions: dimensions, type: .f32, data: bytes)
    }

    /// Adds a tensor with a raw type id (to make files with unsupported types).
    public mutating func addTensor(_ name: String, dimensions: [Int], typeID: UInt32, data: [UInt8]) {
        tensors.append(Tensor(name: name, dimensions: dimensions, typeID: typeID, data: data, offsetOverride: nil))
    }

    public func data() -> Data {
        var out = Data()
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        func putString(_ s: String) { let u = Array(s.utf8); put(UInt64(u.count)); out.append(contentsOf: u) }
        func putValue(_ v: GGUFValue) {
            switch v {
            case .uint8(let x): put(x)
            case .int8(let x): put(x)
            case .uint16(let x): put(x)
            case .int16(let x): put(x)
            case .uint32(let x): put(x)
            case .int32(let x): put(x)
            case .uint64(let x): put(x)
            case .int64(let x): put(x)
            case .float32(let x): put(x.bitPattern)
            case .float64(let x): put(x.bitPattern)
            case .bool(let x): put(UInt8(x ? 1 : 0))
            case .string(let s): putString(s)
            case .array(let elementType, let values):
                put(elementType.rawValue)
                put(UInt64(values.count))
                values.forEach(putValue)
            }
        }
        put(GGUFFile.magic)
        put(version)
        put(UInt64(tensors.count))
        put(UInt64(metadata.count))
        for (key, value) in metadata {
            putString(key)
            put(value.type.rawValue)
            putValue(value)
        }
        var offsets: [UInt64] = []
        var next: UInt64 = 0
        for t in tensors {
            offsets.append(t.offsetOverride ?? next)
            next += UInt64((t.data.count + alignment - 1) / alignment * alignment)
        }
        for (t, offset) in zip(tensors, offsets) {
            putString(t.name)
            put(UInt32(t.dimensions.count))
            t.dimensions.forEach { put(UInt64($0)) }
            put(t.typeID)
            put(offset)
        }
        let pad = (alignment - out.count % alignment) % alignment
        out.append(contentsOf: [UInt8](repeating: 0, count: pad))
        for t in tensors {
            out.append(contentsOf: t.data)
            let tail = (alignment - t.data.count % alignment) % alignment
            out.append(contentsOf: [UInt8](repeating: 0, count: tail))
        }
        return out
    }

    public func write(to path: String) throws {
        try data().write(to: URL(fileURLWithPath: path))
    }
}

/// A parsed, memory-mapped GGUF file (versions 2 and 3): metadata, tensor directory, tensor bytes.
public final class GGUFFile: @unchecked Sendable {
    public let path: String
    public let version: UInt32
    /// Metadata keys in file order.
    public let metadataKeys: [String]
    public let metadata: [String: GGUFValue]
    /// Tensors in file order.
    public let tensors: [GGUFTensorInfo]
    public let alignment: Int
    private let tensorIndex: [String: Int]
    private let file: MemoryMappedFile

    public static let magic: UInt32 = 0x4655_4747  // "GGUF" read little-endian
    public static let defaultAlignment = 32

    public convenience init(path: String) throws {
        try self.init(mapping: try MemoryMappedFile(path: path))
    }

    public init(mapping file: MemoryMappedFile) throws {
        self.file = file
        self.path = file.path
        var cursor = ByteCursor(bytes: file.bytes)
        guard file.bytes.count >= 4, try cursor.read(UInt32.self, "magic") == Self.magic else {
            throw GGUFError.notGGUF(path: file.path)
        }
        version = try cursor.read(UInt32.self, "version")
        guard version == 2 || version == 3 else { throw GGUFError.unsupportedVersion(version) }
        let tensorCount = try cursor.read(UInt64.self, "tensor count")
        let keyCount = try cursor.read(UInt64.self, "metadata count")
        // Each entry takes at least 8 bytes, so larger counts can only mean a corrupt file.
        guard tensorCount <= UInt64(file.bytes.count / 8), keyCount <= UInt64(file.bytes.count / 8) else {
            let needed = max(tensorCount, keyCount).multipliedReportingOverflow(by: 8)
            throw GGUFError.truncated(what: "header counts", offset: cursor.offset,
                                      needed: Int(clamping: needed.overflow ? UInt64.max : needed.partialValue),
                                      fileSize: file.bytes.count)
        }

        var keys: [String] = []
        var metadata: [String: GGUFValue] = [:]
        for index in 0 ..< Int(keyCount) {
            let key = try cursor.readString("metadata key #\(index)")
            let typeID = try cursor.read(UInt32.self, "type of '\(key)'")
            let value = try Self.readValue(&cursor, typeID: typeID, key: key)
            guard metadata.updateValue(value, forKey: key) == nil else { throw GGUFError.duplicateKey(key) }
            keys.append(key)
        }
        metadataKeys = keys
        self.metadata = metadata

        let alignment = try Self.alignment(in: metadata)
        guard alignment > 0, alignment & (alignment - 1) == 0 else { throw GGUFError.invalidAlignment(alignment) }
        self.alignment = alignment

        struct RawTensor { let name: String; let dims: [Int]; let type: GGMLType; let offset: UInt64 }
        var raw: [RawTensor] = []
        var index: [String: Int] = [:]
        for i in 0 ..< Int(tensorCount) {
            let name = try cursor.readString("tensor name #\(i)")
            let dimCount = try cursor.read(UInt32.self, "dimension count of '\(name)'")
            guard dimCount >= 1, dimCount <= 4 else { throw GGUFError.tooManyDimensions(tensor: name, count: Int(dimCount)) }
            var dims: [Int] = []
            for d in 0 ..< Int(dimCount) {
                let size = try cursor.read(UInt64.self, "dimension \(d) of '\(name)'")
                guard size > 0, size < (1 << 40) else { throw GGUFError.badTensorShape(tensor: name, reason: "dimension \(d) is \(size)") }
                dims.append(Int(size))
            }
            let typeID = try cursor.read(UInt32.self, "type of '\(name)'")
            guard let type = GGMLType(rawValue: typeID) else { throw GGUFError.unsupportedTensorType(tensor: name, typeID: typeID) }
            guard dims[0] % type.blockElements == 0 else {
                let reason = "row length \(dims[0]) is not a multiple of the \(type.name) block size \(type.blockElements)"
                throw GGUFError.badTensorShape(tensor: name, reason: reason)
            }
            let offset = try cursor.read(UInt64.self, "data offset of '\(name)'")
            guard index.updateValue(raw.count, forKey: name) == nil else { throw GGUFError.duplicateTensor(name) }
            raw.append(RawTensor(name: name, dims: dims, type: type, offset: offset))
        }
        tensorIndex = index

        let dataStart = (cursor.offset + alignment - 1) / alignment * alignment
        let fileSize = file.bytes.count
        tensors = try raw.map { t in
            let elements = t.dims.reduce(1) { $0.multipliedReportingOverflow(by: $1).partialValue }
            guard elements < (1 << 42) else { throw GGUFError.badTensorShape(tensor: t.name, reason: "too many elements") }
            let byteCount = t.type.byteCount(elements: elements)
            guard t.offset % UInt64(alignment) == 0 else {
                throw GGUFError.misalignedTensor(tensor: t.name, offset: Int(clamping: t.offset), alignment: alignment)
            }
            guard t.offset <= UInt64(fileSize) else {
                throw GGUFError.tensorOutOfBounds(tensor: t.name, end: Int(clamping: t.offset), fileSize: fileSize)
            }
            let start = dataStart + Int(t.offset)
            guard start + byteCount <= fileSize else {
                throw GGUFError.tensorOutOfBounds(tensor: t.name, end: start + byteCount, fileSize: fileSize)
            }
            return GGUFTensorInfo(name: t.name, dimensions: t.dims, type: t.type, fileOffset: start, byteCount: byteCount)
        }
        try Self.checkNoOverlap(tensors)
    }

    /// `general.alignment` must be an integer when present: a float or string there is a corrupt file, not 32.
    private static func alignment(in metadata: [String: GGUFValue]) throws -> Int {
        guard let value = metadata[GGUFKey.alignment] else { return defaultAlignment }
        guard let alignment = value.intValue else {
            throw GGUFError.wrongValueType(key: GGUFKey.alignment, expected: "an integer", found: value.type.name)
        }
        return alignment
    }

    /// Two tensors sharing bytes would make one weight silently alias another.
    private static func checkNoOverlap(_ tensors: [GGUFTensorInfo]) throws {
        let byStart = tensors.sorted { $0.fileOffset < $1.fileOffset }
        for (earlier, later) in zip(byStart, byStart.dropFirst()) {
            guard later.fileOffset >= earlier.fileOffset + earlier.byteCount else {
                throw GGUFError.overlappingTensors(earlier.name, later.name)
            }
        }
    }

    private static func readValue(_ cursor: inout ByteCursor, typeID: UInt32, key: String, depth: Int = 0) throws -> GGUFValue {
        guard let type = GGUFValueType(rawValue: typeID) else { throw GGUFError.invalidValueType(key: key, typeID: typeID) }
        let what = "value of '\(key)'"
        switch type {
        case .uint8: return .uint8(try cursor.read(UInt8.self, what))
        case .int8: return .int8(try cursor.read(Int8.self, what))
        case .uint16: return .uint16(try cursor.read(UInt16.self, what))
        case .int16: return .int16(try cursor.read(Int16.self, what))
        case .uint32: return .uint32(try cursor.read(UInt32.self, what))
        case .int32: return .int32(try cursor.read(Int32.self, what))
        case .uint64: return .uint64(try cursor.read(UInt64.self, what))
        case .int64: return .int64(try cursor.read(Int64.self, what))
        case .float32: return .float32(try cursor.readFloat(what))
        case .float64: return .float64(try cursor.readDouble(what))
        case .bool: return .bool(try cursor.read(UInt8.self, what) != 0)
        case .string: return .string(try cursor.readString(what))
        case .array:
            guard depth < 8 else { throw GGUFError.invalidValueType(key: key, typeID: typeID) }
            let elementTypeID = try cursor.read(UInt32.self, "array type of '\(key)'")
            guard let elementType = GGUFValueType(rawValue: elementTypeID) else {
                throw GGUFError.invalidValueType(key: key, typeID: elementTypeID)
            }
            let count = try cursor.read(UInt64.self, "array length of '\(key)'")
            guard count <= UInt64(cursor.bytes.count - cursor.offset) else {
                throw GGUFError.truncated(what: "array '\(key)'", offset: cursor.offset, needed: Int(clamping: count),
                                          fileSize: cursor.bytes.count)
            }
            var values: [GGUFValue] = []
            values.reserveCapacity(Int(count))
            for _ in 0 ..< Int(count) {
                values.append(try readValue(&cursor, typeID: elementTypeID, key: key, depth: depth + 1))
            }
            return .array(elementType: elementType, values)
        }
    }

    // MARK: Tensors

    public func tensorInfo(_ name: String) -> GGUFTensorInfo? { tensorIndex[name].map { tensors[$0] } }

    /// The bytes of a tensor, straight from the memory map.
    public func tensorData(_ info: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: file.bytes[info.fileOffset ..< info.fileOffset + info.byteCount])
    }

    public var fileSize: Int { file.bytes.count }

    // MARK: Typed metadata access

    public func value(_ key: String) throws -> GGUFValue {
        guard let value = metadata[key] else { throw GGUFError.missingKey(key) }
        return value
    }

    public func int(_ key: String) throws -> Int {
        let v = try value(key)
        guard let i = v.intValue else { throw GGUFError.wrongValueType(key: key, expected: "an integer", found: v.type.name) }
        return i
    }

    public func float(_ key: String) throws -> Float {
        let v = try value(key)
        guard let d = v.doubleValue else { throw GGUFError.wrongValueType(key: key, expected: "a number", found: v.type.name) }
        return Float(d)
    }

    public func string(_ key: String) throws -> String {
        let v = try value(key)
        guard case .string(let s) = v else { throw GGUFError.wrongValueType(key: key, expected: "a string", found: v.type.name) }
        return s
    }

    public func bool(_ key: String) throws -> Bool {
        let v = try value(key)
        if case .bool(let b) = v { return b }
        if let i = v.intValue { return i != 0 }
        throw GGUFError.wrongValueType(key: key, expected: "a bool", found: v.type.name)
    }

    public func stringArray(_ key: String) throws -> [String] {
        try array(key, of: "strings") { value in
            guard case .string(let s) = value else { return nil }
            return s
        }
    }

    public func intArray(_ key: String) throws -> [Int] {
        try array(key, of: "integers") { $0.intValue }
    }

    public func floatArray(_ key: String) throws -> [Float] {
        try array(key, of: "numbers") { $0.doubleValue.map { Float($0) } }
    }

    /// The array at `key` with every element converted by `element` (nil: the element has the wrong type).
    private func array<Element>(_ key: String, of kind: String, _ element: (GGUFValue) -> Element?) throws -> [Element] {
        let v = try value(key)
        let expected = "an array of \(kind)"
        guard case .array(_, let values) = v else {
            throw GGUFError.wrongValueType(key: key, expected: expected, found: v.type.name)
        }
        return try values.map {
            guard let converted = element($0) else {
                throw GGUFError.wrongValueType(key: key, expected: expected, found: "an array of \($0.type.name)")
            }
            return converted
        }
    }

    /// Optional variants: nil when absent, an error when present with the wrong type.
    public func optionalInt(_ key: String) throws -> Int? { metadata[key] == nil ? nil : try int(key) }
    public func optionalFloat(_ key: String) throws -> Float? { metadata[key] == nil ? nil : try float(key) }
    public func optionalBool(_ key: String) throws -> Bool? { metadata[key] == nil ? nil : try bool(key) }
    public func optionalString(_ key: String) throws -> String? { metadata[key] == nil ? nil : try string(key) }
}

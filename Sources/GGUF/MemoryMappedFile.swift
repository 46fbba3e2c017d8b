#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A read-only memory map of a whole file: weights are paged in by the OS, never copied.
public final class MemoryMappedFile: @unchecked Sendable {
    public let path: String
    /// The mapped bytes (empty for an empty file).
    public let bytes: UnsafeRawBufferPointer
    private let mapping: UnsafeMutableRawPointer?

    public init(path: String) throws {
        self.path = path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw GGUFError.fileNotFound(path: path)
        }
        if isDirectory.boolValue { throw GGUFError.unreadable(path: path, reason: "it is a directory") }
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw GGUFError.unreadable(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw GGUFError.unreadable(path: path, reason: String(cString: strerror(errno))) }
        let size = Int(info.st_size)
        if size == 0 {
            mapping = nil
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        let pointer = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let pointer, pointer != MAP_FAILED else {
            throw GGUFError.unreadable(path: path, reason: "mmap failed: \(String(cString: strerror(errno)))")
        }
        mapping = pointer
        bytes = UnsafeRawBufferPointer(start: pointer, count: size)
    }

    deinit {
        if let mapping { munmap(mapping, bytes.count) }
    }
}

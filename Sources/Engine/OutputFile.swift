import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file the user named for output. Symbolic links are followed (the link stays, its target is written);
/// directories, devices and other non-regular files are refused before any work starts; a write is complete
/// or absent: the data goes to a temporary file beside the target, every write and the close are checked,
/// and only then is it renamed over the target, so a full disk leaves the previous contents intact.
public struct OutputFile: Sendable {
    /// The path as the user gave it (for messages).
    public let path: String
    /// The regular file actually written: `path` with its symbolic links followed.
    public let target: String

    /// Checks that `path` can be written: its folder exists and is writable, and it is absent or a writable
    /// regular file (after following links).
    /// - Parameter option: the option that named it (`--json`), for messages.
    public init(_ path: String, option: String) throws {
        self.path = path
        target = try Self.followingLinks(path, option: option)
        var info = stat()
        if lstat(target, &info) == 0 {
            let kind = info.st_mode & S_IFMT
            guard kind == S_IFREG else {
                throw EngineError.invalidParameter(name: option, reason: "\(path) is \(Self.describe(kind)), not a regular file")
            }
            guard access(target, W_OK) == 0 else {
                throw EngineError.invalidParameter(name: option, reason: "\(path) is not writable")
            }
        }
        let folder = Self.folder(of: target)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw EngineError.invalidParameter(name: option, reason: "the folder \(folder) of \(path) does not exist")
        }
        guard access(folder, W_OK | X_OK) == 0 else {
            throw EngineError.invalidParameter(name: option, reason: "the folder \(folder) of \(path) is not writable")
        }
    }

    /// Replaces the file's contents with `data`, all or nothing.
    public func write(_ data: Data) throws {
        let temporary = Self.folder(of: target) + "/." + (target as NSString).lastPathComponent + ".tmp-\(getpid())"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard descriptor >= 0 else { throw failure(errno) }
        var error: Int32 = 0
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count, let base = raw.baseAddress {
                let written = systemWrite(descriptor, base + offset, raw.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    error = errno
                    return
                }
                offset += written
            }
        }
        var existing = stat()
        if error == 0, stat(target, &existing) == 0 { _ = fchmod(descriptor, existing.st_mode & 0o7777) }
        if error == 0, fsync(descriptor) != 0, errno != EINVAL { error = errno }
        if close(descriptor) != 0, error == 0 { error = errno }
        if error == 0, rename(temporary, target) != 0 { error = errno }
        guard error == 0 else {
            unlink(temporary)
            throw failure(error)
        }
    }

    private func failure(_ code: Int32) -> EngineError {
        .writeFailed(path: path, reason: String(cString: strerror(code)))
    }

    /// A folder the user named for output files: created if absent; must be a writable folder.
    public static func checkFolder(_ path: String, option: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw EngineError.invalidParameter(name: option, reason: "\(path) exists and is not a folder")
            }
        } else {
            do {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            } catch {
                throw EngineError.invalidParameter(name: option, reason: "cannot create the folder \(path): \(error.localizedDescription)")
            }
        }
        guard access(path, W_OK | X_OK) == 0 else {
            throw EngineError.invalidParameter(name: option, reason: "the folder \(path) is not writable")
        }
    }

    /// `path` with symbolic links followed (at most 40, as the kernel allows), relative links against their folder.
    static func followingLinks(_ path: String, option: String) throws -> String {
        var current = path
        for _ in 0 ..< 40 {
            guard let destination = try? FileManager.default.destinationOfSymbolicLink(atPath: current) else { return current }
            current = destination.hasPrefix("/") ? destination : folder(of: current) + "/" + destination
        }
        throw EngineError.invalidParameter(name: option, reason: "\(path): too many levels of symbolic links")
    }

    static func folder(of path: String) -> String {
        let folder = (path as NSString).deletingLastPathComponent
        return folder.isEmpty ? "." : folder
    }

    static func describe(_ kind: mode_t) -> String {
        switch kind {
        case S_IFDIR: return "a folder"
        case S_IFCHR, S_IFBLK: return "a device"
        case S_IFIFO: return "a pipe"
        case S_IFSOCK: return "a socket"
        default: return "a special file"
        }
    }
}

/// POSIX write(2), named apart from `OutputFile.write`.
private func systemWrite(_ descriptor: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    #if canImport(Glibc)
    return Glibc.write(descriptor, buffer, count)
    #else
    return Darwin.write(descriptor, buffer, count)
    #endif
}

import Foundation

/// A helper program that failed to start or exited non-zero.
public struct ExternalCommandError: Error, CustomStringConvertible, Sendable {
    /// The exit status, or nil when the program could not start.
    public let status: Int32?
    public let description: String
}

/// Runs helper programs (python3 and pip) found on PATH, for fetching what the project needs.
public enum ExternalCommand {
    /// Runs `arguments` (program first) with its output on stderr, or captured when `capture` is set.
    /// - Returns: the captured stdout (empty unless `capture`).
    @discardableResult
    public static func run(_ arguments: [String], what: String, directory: URL? = nil, capture: Bool = false) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        let pipe = Pipe()
        process.standardOutput = capture ? pipe : FileHandle.standardError
        process.standardError = FileHandle.standardError
        do {
            try process.run()
        } catch {
            throw ExternalCommandError(status: nil, description: "\(what) could not start: \(error.localizedDescription)")
        }
        let output = capture ? pipe.fileHandleForReading.readDataToEndOfFile() : Data()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let status = process.terminationStatus
            throw ExternalCommandError(status: status, description: "\(what) failed with exit code \(status)")
        }
        return output
    }
}

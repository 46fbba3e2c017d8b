import ArgumentParser
import Foundation

/// stdout for results, stderr for status, progress and statistics.
enum Console {
    static func out(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    static func status(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// A one-line progress bar on stderr, redrawn in place.
    static func progress(_ label: String, done: Int, total: Int) {
        let width = 30
        let filled = total > 0 ? width * done / total : width
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        let end = done >= total ? "\n" : ""
        FileHandle.standardError.write(Data("\r\(label) \(bar) \(done)/\(total)\(end)".utf8))
    }
}

/// Runs a command body, turning any error into a one-line message and a non-zero exit.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as CLIError {
        throw error
    } catch let error as ValidationError {
        throw error
    } catch let error as CustomStringConvertible & Error {
        throw CLIError(error.description)
    }
}

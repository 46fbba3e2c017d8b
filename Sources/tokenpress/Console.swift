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

    /// A one-line progress bar on stderr, redrawn in place, with the elapsed time and an estimate of what is left
    /// (from the pace so far; the clock starts when a bar is at 0). `bar` names the bar when its label changes
    /// from step to step (bench names the press being measured), so its clock runs on; by default the label.
    static func progress(_ label: String, done: Int, total: Int, bar: String? = nil) {
        let now = Date()
        let id = bar ?? label
        if done == 0 || progressStart.bar != id { progressStart = (id, now) }
        let width = 30
        let filled = total > 0 ? width * min(done, total) / total : width
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        let elapsed = now.timeIntervalSince(progressStart.time)
        var timing = " " + duration(elapsed)
        if done > 0 && done < total {
            timing += ", ETA " + duration(elapsed * Double(total - done) / Double(done))
        }
        let end = done >= total ? "\n" : ""
        FileHandle.standardError.write(Data("\r\(label) \(bar) \(done)/\(total)\(timing)\u{1B}[K\(end)".utf8))
    }

    /// Starts the clock of the bar named `bar` without drawing it (nothing reaches stderr before the work's own
    /// checks have passed).
    static func startProgress(bar: String) {
        progressStart = (bar, Date())
    }

    /// When the current progress bar started. Progress is drawn from one thread at a time.
    nonisolated(unsafe) private static var progressStart = (bar: "", time: Date())

    /// "42 s", "3 min 05 s", "1 h 02 min".
    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        if s < 60 { return "\(s) s" }
        if s < 3600 { return String(format: "%d min %02d s", s / 60, s % 60) }
        return String(format: "%d h %02d min", s / 3600, (s % 3600) / 60)
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

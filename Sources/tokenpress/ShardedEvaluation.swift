import Evaluation
import Foundation

/// `tokenpress eval --jobs N`: runs the sweep as N child processes (`eval --shard i/N`, each with its own JSON file
/// and a share of the cores), shows one progress bar over all of them, and merges their results into what a single
/// process would have measured. Children resume from the main JSON file and from their own, so an interrupted
/// run loses at most one prompt per child.
struct ShardedEvaluation {
    let plan: EvaluationPlan
    let jobs: Int
    /// Arguments every child gets (model, haystack, profile, threads), without --plan, --json and --shard.
    let childArguments: [String]
    /// The main JSON file (nil: results live in a temporary folder).
    let json: String?
    let fresh: Bool

    func run(model: String) throws -> EvaluationResults {
        let named = json.map { ($0 as NSString).deletingLastPathComponent } ?? NSTemporaryDirectory()
        let folder = (named.isEmpty ? "." : named) as NSString
        let base = json.map { ($0 as NSString).lastPathComponent } ?? "tokenpress-eval-\(ProcessInfo.processInfo.processIdentifier).json"
        let shards = (0 ..< jobs).map { i in
            (file: folder.appendingPathComponent("\(base).shard-\(i)-of-\(jobs).json"), index: i)
        }
        if fresh { for s in shards { try? FileManager.default.removeItem(atPath: s.file) } }
        // The children read the plan itself, so theirs is this one.
        let planFile = folder.appendingPathComponent("\(base).plan.json")
        do {
            try plan.write(to: planFile)
        } catch {
            throw CLIError("cannot write the plan for the eval shards: \(error)")
        }
        defer { try? FileManager.default.removeItem(atPath: planFile) }
        let previous = fresh ? nil : json.flatMap(Self.load)
        let executable = Bundle.main.executableURL ?? URL(fileURLWithPath: CommandLine.arguments[0])
        var children: [(process: Process, log: String, index: Int)] = []
        for s in shards {
            let process = Process()
            process.executableURL = executable
            var arguments = ["eval"] + childArguments + ["--plan", planFile]
            arguments += ["--json", s.file, "--shard", "\(s.index)/\(jobs)"]
            if let json, !fresh, previous != nil { arguments += ["--resume-from", json] }
            process.arguments = arguments
            let log = s.file + ".log"
            guard FileManager.default.createFile(atPath: log, contents: nil),
                  let logHandle = FileHandle(forWritingAtPath: log) else {
                children.forEach { $0.process.terminate() }
                throw CLIError("cannot create the eval shard log \(log)")
            }
            process.standardOutput = FileHandle.nullDevice
            process.standardError = logHandle
            do {
                try process.run()
            } catch {
                children.forEach { $0.process.terminate() }
                throw CLIError("cannot start eval shard \(s.index)/\(jobs): \(error.localizedDescription)")
            }
            children.append((process, log, s.index))
        }
        Console.status("eval: \(jobs) processes, prompts dealt round-robin; shard logs next to \(shards[0].file)")
        // Progress: cells in the shard files, each read again only when its child has rewritten it.
        let total = plan.cellCount
        let previousCells = previous.map { $0.perplexity.count + $0.answers.count } ?? 0
        var cells: [String: (modified: Date, count: Int)] = [:]
        while children.contains(where: { $0.process.isRunning }) {
            for s in shards {
                guard let modified = (try? FileManager.default.attributesOfItem(atPath: s.file))?[.modificationDate] as? Date,
                      cells[s.file]?.modified != modified, let part = Self.load(s.file) else { continue }
                cells[s.file] = (modified, part.perplexity.count + part.answers.count)
            }
            // Children start from the previous results, so each file repeats them: count them once.
            let done = previousCells + cells.values.reduce(0) { $0 + max(0, $1.count - previousCells) }
            Console.progress("eval", done: min(total - 1, done), total: total)
            Thread.sleep(forTimeInterval: 2)
        }
        let failed = children.filter { $0.process.terminationStatus != 0 }
        if let first = failed.first {
            FileHandle.standardError.write(Data("\n".utf8))
            let message = Self.lastMessage(first.log)
            guard json != nil else {
                for s in shards {
                    try? FileManager.default.removeItem(atPath: s.file)
                    try? FileManager.default.removeItem(atPath: s.file + ".log")
                }
                throw CLIError("eval shard \(first.index)/\(jobs) failed (exit \(first.process.terminationStatus)): \(message)")
            }
            throw CLIError("eval shard \(first.index)/\(jobs) failed (exit \(first.process.terminationStatus)): \(message); "
                + "finished cells are kept in \(shards[first.index].file) and resume on the next run")
        }
        // Each file read once. A child that measured another plan would be dropped by the merge without a word:
        // refuse instead.
        let parts = shards.map { Self.load($0.file) }
        if let s = shards.first(where: { parts[$0.index]?.plan != plan }) {
            throw CLIError("eval shard \(s.index)/\(jobs) did not write results of this plan to \(s.file) "
                + "(see \(s.file).log); run with --jobs 1")
        }
        let results = EvaluationResults.merged([previous].compactMap { $0 } + parts.compactMap { $0 }, model: model,
                                               plan: plan)
        Console.progress("eval", done: total, total: total)
        for s in shards {
            try? FileManager.default.removeItem(atPath: s.file)
            try? FileManager.default.removeItem(atPath: s.file + ".log")
        }
        return results
    }

    static func load(_ path: String) -> EvaluationResults? {
        FileManager.default.contents(atPath: path).flatMap { try? EvaluationReport.results(fromJSON: $0) }
    }

    /// The last message a child wrote to its log, without the progress bar it may follow (bars are redrawn with
    /// carriage returns and end without a newline).
    static func lastMessage(_ log: String) -> String {
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        let lines = text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).map { line in
            // The bar: label, blocks, done/total, elapsed time and ETA, and the erase-to-end-of-line code.
            let bar = "^\\S+ [█░]+ \\d+/\\d+( [^\u{1B}]*)?(\u{1B}\\[K)?"
            return line.replacingOccurrences(of: bar, with: "", options: .regularExpression).trimmingCharacters(in: .whitespaces)
        }
        return lines.last { !$0.isEmpty } ?? "no message (see \(log))"
    }
}

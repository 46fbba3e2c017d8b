import ArgumentParser
import Evaluation
import Foundation

/// `tokenpress report`: the report of results files written by `eval --json`, several runs combined into one.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Rebuild an eval report from results files (eval --json), combining runs into one table, "
            + "Pareto comparison and plots.",
        discussion: """
            Runs combine when they asked the same questions (model, tasks, contexts, samples, seed, split; only \
            presses and ratios differ); otherwise the error names the difference. Runs of RULER's tasks that took \
            different sample counts combine on the samples they all have (a task's first N samples are the same \
            questions in every run). A configuration in several files is taken from the first file naming it. \
            Notes go to stderr: configurations dropped, and a full cache \
            whose answers or bytes differ between files (the engine changed between the runs).
            With memory targets of the allocator (target:memory=…) beside fixed configurations, the report adds the \
            allocator against the best fixed configuration within each target's bytes (paired difference, verdict) \
            and the fixed configurations' Pareto frontier; --plots draws both (pareto-score.svg, pareto-kl.svg).
            Example: tokenpress report docs/leaderboard.json docs/eval/targets-ruler-4k-retrieval.json \
            --markdown pareto.md --plots plots
            """)

    @Argument(help: "Results files written by tokenpress eval --json.")
    var files: [String] = []
    @Option(name: .long, help: "Also write the Markdown report to this file.")
    var markdown: String?
    @Option(name: .long, help: "Write the combined results (every measurement and the summary) as JSON to this file.")
    var json: String?
    @Option(name: .long, help: "Write SVG plots into this folder (as eval --plots, with the Pareto plots).")
    var plots: String?
    @Option(name: .long, help: "Write a leaderboard (presses ranked by average task score at each ratio) to this file.")
    var leaderboard: String?

    func run() throws {
        try reportingErrors {
            guard !files.isEmpty else { throw CLIError("give one or more results files of tokenpress eval --json") }
            let outputs = try ReportOutputs(json: json, markdown: markdown, leaderboard: leaderboard, plots: plots)
            var sources: [(name: String, results: EvaluationResults)] = []
            for file in files {
                var isFolder: ObjCBool = false
                let exists = FileManager.default.fileExists(atPath: file, isDirectory: &isFolder)
                guard exists, !isFolder.boolValue else {
                    throw CLIError("\(file) does not exist or is a folder")
                }
                guard let data = FileManager.default.contents(atPath: file) else { throw CLIError("cannot read \(file)") }
                guard let results = try? EvaluationReport.results(fromJSON: data) else {
                    throw CLIError("\(file) is not a results file of tokenpress eval --json")
                }
                sources.append((file, results))
            }
            let combination = try EvaluationResults.combining(sources)
            for note in combination.notes { Console.status("note: \(note)") }
            try outputs.write(EvaluationReport(combination.results))
        }
    }
}

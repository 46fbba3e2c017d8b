import Engine
import Evaluation
import Foundation

/// Where an evaluation report goes (`eval` and `report`): Markdown to stdout and optionally a file, the results as
/// JSON, SVG plots into a folder, a leaderboard. Every location is checked when this is made, before any slow work.
struct ReportOutputs {
    var json: OutputFile?
    var markdown: OutputFile?
    var leaderboard: OutputFile?
    var plots: String?

    init(json: String?, markdown: String?, leaderboard: String?, plots: String?) throws {
        self.json = try json.map { try OutputFile($0, option: "--json") }
        self.markdown = try markdown.map { try OutputFile($0, option: "--markdown") }
        self.leaderboard = try leaderboard.map { try OutputFile($0, option: "--leaderboard") }
        if let plots {
            try OutputFile.checkFolder(plots, option: "--plots")
            self.plots = plots
        }
    }

    func write(_ report: EvaluationReport) throws {
        Console.out(report.markdown)
        try markdown?.write(Data(report.markdown.utf8))
        try json?.write(try report.json())
        if let plots {
            for (name, svg) in report.plots.sorted(by: { $0.key < $1.key }) {
                let path = (plots as NSString).appendingPathComponent(name)
                try OutputFile(path, option: "--plots").write(Data(svg.utf8))
            }
        }
        if let leaderboard {
            let words = ["tokenpress"] + CommandLine.arguments.dropFirst()
            let command = words.map { $0.contains(" ") ? "'\($0)'" : $0 }.joined(separator: " ")
            try leaderboard.write(Data(report.leaderboard(command: command).utf8))
        }
    }
}

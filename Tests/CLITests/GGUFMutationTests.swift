import Foundation
import TestSupport
import XCTest

/// A deterministic mutation fuzzer over a tiny model written by the project's GGUF writer: every header,
/// metadata and tensor-directory field set to 0, 1, −1, its maximum, off by one, or a wrong type; names
/// starting with NUL, ESC or invalid UTF-8; the file cut short; random bytes flipped with a fixed seed.
/// Each file goes through `tokenpress generate`, which must load it and answer, or refuse it with exactly one
/// printable `Error:` line and a non-zero exit — never a signal, a hang or a flood of bytes.
final class GGUFMutationTests: XCTestCase {
    struct Mutation {
        let label: String
        let edits: [(offset: Int, bytes: [UInt8])]
        var truncation: Int?
    }

    func testEveryMutatedFileLoadsOrFailsWithOneLine() throws {
        let original = Array(TinyModel().writer().data())
        let map = GGUFFieldMap(Data(original))
        let mutations = fieldMutations(map) + truncations(map, fileSize: original.count) + byteFlips(map, fileSize: original.count)
        XCTAssertGreaterThanOrEqual(mutations.count, 2_000)

        let folder = NSTemporaryDirectory() + "gguf-mutations-\(UUID().uuidString)/"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let workers = 4
        let lock = NSLock()
        nonisolated(unsafe) var problems: [String] = []
        nonisolated(unsafe) var loaded = 0
        let started = Date()
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            let path = folder + "worker-\(worker).gguf"
            for index in stride(from: worker, to: mutations.count, by: workers) {
                let mutation = mutations[index]
                let outcome = Self.check(mutation, of: original, at: path)
                lock.lock()
                if let problem = outcome.problem { problems.append(problem) }
                if outcome.loaded { loaded += 1 }
                lock.unlock()
            }
        }
        let seconds = Date().timeIntervalSince(started)
        print("GGUF mutations: \(mutations.count) files, \(loaded) loaded and ran, "
              + "\(mutations.count - loaded - problems.count) refused with one line, \(problems.count) problems, "
              + String(format: "%.1f s", seconds))
        XCTAssertTrue(problems.isEmpty, "\(problems.count) mutated files misbehaved, e.g.:\n" + problems.prefix(8).joined(separator: "\n"))
    }

    // MARK: One case

    static func check(_ mutation: Mutation, of original: [UInt8], at path: String) -> (loaded: Bool, problem: String?) {
        var bytes = original
        for edit in mutation.edits { bytes.replaceSubrange(edit.offset ..< edit.offset + edit.bytes.count, with: edit.bytes) }
        if let truncation = mutation.truncation { bytes.removeSubrange(truncation...) }
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let result = try CLIRunner.run(["generate", "-m", path, "-p", "hello world", "-n", "2"], timeout: 20)
            return (result.status == 0, problem(in: result, label: mutation.label))
        } catch {
            return (false, "\(mutation.label): \(error)")
        }
    }

    static func problem(in result: CLIRunner.Result, label: String) -> String? {
        if result.signaled {
            // Where it crashed: the backtrace's first frame in this project's sources, or its runtime failure line.
            let lines = result.stderr.split(separator: "\n")
            let frame = lines.first { $0.contains("/Sources/") } ?? lines.first { $0.contains("runtime failure") } ?? ""
            return "\(label): killed by signal \(result.status) \(frame.suffix(160))"
        }
        if result.status == 0 {
            return result.stderr.contains("Error:") ? "\(label): exit 0 with an error: \(result.stderr.prefix(200))" : nil
        }
        let lines = result.stderr.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.isEmpty }
        guard lines.count == 1, let line = lines.first, line.hasPrefix("Error: ") else {
            return "\(label): expected one Error: line, got \(lines.count) lines: \(result.stderr.prefix(200).debugDescription)"
        }
        if line.count > 400 { return "\(label): error line of \(line.count) characters: \(line.prefix(440))" }
        if line.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            return "\(label): control characters in \(line.debugDescription.prefix(200))"
        }
        if !result.stdout.isEmpty { return "\(label): refused but wrote to stdout" }
        return nil
    }

    // MARK: Mutations

    func fieldMutations(_ map: GGUFFieldMap) -> [Mutation] {
        map.fields.flatMap { field -> [Mutation] in
            let values: [UInt64]
            switch field.kind {
            case .number:
                let original = field.originalValue
                let allOnes: UInt64 = field.size == 8 ? .max : (1 << (8 * UInt64(field.size))) - 1
                var numbers: [UInt64] = [0, 1, allOnes, allOnes >> 1, original &+ 1, original &- 1]
                // As float32 (hyperparameters): NaN, +inf, −inf, −1.
                if field.size == 4 { numbers += [0x7FC0_0000, 0x7F80_0000, 0xFF80_0000, 0xBF80_0000] }
                values = numbers
            case .valueType:
                values = Array(0 ... 13) + [0xFFFF_FFFF]
            case .tensorType:
                values = [0, 1, 2, 3, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 20, 30, 39, 255]
            case .nameByte:
                values = [0x00, 0x1B, 0xFF, 0x20]
            }
            return Set(values).sorted().compactMap { value in
                let bytes = (0 ..< field.size).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }
                guard bytes != field.originalBytes else { return nil }
                return Mutation(label: "\(field.label) = \(value)", edits: [(field.offset, bytes)])
            }
        }
    }

    /// Cuts every few bytes through the header, metadata and tensor directory, then through the weights.
    func truncations(_ map: GGUFFieldMap, fileSize: Int) -> [Mutation] {
        let directoryEnd = map.directoryEnd
        let inDirectory = stride(from: 0, to: directoryEnd, by: max(1, directoryEnd / 250))
        let inData = stride(from: directoryEnd, to: fileSize, by: max(1, (fileSize - directoryEnd) / 40))
        return (Array(inDirectory) + Array(inData)).map { Mutation(label: "cut at byte \($0)", edits: [], truncation: $0) }
    }

    /// Random bytes set to random values (seeded): two thirds inside the directory, one third anywhere.
    func byteFlips(_ map: GGUFFieldMap, fileSize: Int) -> [Mutation] {
        var random = TestRandom(seed: 2026)
        return (0 ..< 500).map { index in
            let limit = index % 3 == 2 ? fileSize : map.directoryEnd
            let edits = (0 ..< 1 + Int(random.next() % 6)).map { _ in
                (offset: Int(random.next() % UInt64(limit)), bytes: [UInt8(truncatingIfNeeded: random.next())])
            }
            return Mutation(label: "random edit #\(index) at \(edits.map(\.offset))", edits: edits)
        }
    }
}

import ArgumentParser
import Foundation
import GGUF

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Print a GGUF file's metadata and tensor table.")

    @Argument(help: "Path to a GGUF file.")
    var model: String

    @Flag(name: .long, help: "List every tensor (default: the first 40).")
    var allTensors = false

    func run() throws {
        try reportingErrors {
            let file = try GGUFFile(path: model)
            var out = "GGUF v\(file.version): \(file.metadata.count) metadata keys, \(file.tensors.count) tensors, "
            out += "\(file.fileSize) bytes\n\n"
            let keyWidth = min(48, file.metadataKeys.map(\.count).max() ?? 0)
            out += "metadata\n"
            for key in file.metadataKeys {
                guard let value = file.metadata[key] else { continue }
                out += "  " + key.padding(toLength: max(keyWidth, key.count), withPad: " ", startingAt: 0)
                out += "  " + value.type.name.padding(toLength: 8, withPad: " ", startingAt: 0) + "  " + value.summary + "\n"
            }
            let shown = allTensors ? file.tensors : Array(file.tensors.prefix(40))
            let nameWidth = shown.map(\.name.count).max() ?? 4
            out += "\ntensors\n"
            out += "  " + "name".padding(toLength: nameWidth, withPad: " ", startingAt: 0) + "  type   "
            out += "shape".padding(toLength: 16, withPad: " ", startingAt: 0) + "       bytes\n"
            for t in shown {
                let shape = t.dimensions.map(String.init).joined(separator: " × ")
                let bytes = String(t.byteCount)
                out += "  " + t.name.padding(toLength: nameWidth, withPad: " ", startingAt: 0) + "  "
                out += t.type.name.padding(toLength: 5, withPad: " ", startingAt: 0) + "  "
                out += shape.padding(toLength: 16, withPad: " ", startingAt: 0)
                out += String(repeating: " ", count: max(1, 12 - bytes.count)) + bytes + "\n"
            }
            if shown.count < file.tensors.count { out += "  ... \(file.tensors.count - shown.count) more (--all-tensors)\n" }
            var byType: [String: (count: Int, bytes: Int)] = [:]
            for t in file.tensors {
                byType[t.type.name, default: (0, 0)].count += 1
                byType[t.type.name, default: (0, 0)].bytes += t.byteCount
            }
            let typeLines = byType.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value.count) tensors, \($0.value.bytes) bytes" }
            out += "\n" + typeLines.joined(separator: "\n") + "\n"
            Console.out(out)
        }
    }
}

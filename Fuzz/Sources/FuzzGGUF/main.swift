// libFuzzer target: arbitrary bytes as a GGUF file, read as the CLI reads a model — header, metadata,
// tensor directory, tokenizer and model configuration. Any thrown error is fine; a crash or hang is a finding.
import Foundation
import GGUF
import Models
import TestSupport
import Tokenizer

/// Where each input is written (the reader memory-maps files): in memory when /dev/shm exists.
nonisolated(unsafe) var inputPath = ""

func initialize() {
    let folder = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    inputPath = folder + "/fuzz-gguf-\(getpid()).gguf"
    // Seed corpus: a tiny valid model, written where FUZZ_SEEDS points (once).
    if let seeds = ProcessInfo.processInfo.environment["FUZZ_SEEDS"] {
        try? FileManager.default.createDirectory(atPath: seeds, withIntermediateDirectories: true)
        if let path = try? TinyModel().write(), let data = FileManager.default.contents(atPath: path) {
            try? data.write(to: URL(fileURLWithPath: seeds + "/tiny-llama.gguf"))
        }
    }
}

func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    let bytes = Data(bytes: data, count: size)
    guard FileManager.default.createFile(atPath: inputPath, contents: bytes) else { return 0 }
    do {
        let file = try GGUFFile(path: inputPath)
        _ = try Tokenizer(file: file)
        _ = try ModelRegistry.load(file)
    } catch {
        checkMessage("\(error)")
    }
    return 0
}

/// Error text is printed as one line: a newline, a control character or a flood of bytes is a finding.
func checkMessage(_ message: String) {
    let unprintable = message.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
    if unprintable || message.count > 400 {
        fatalError("error message not fit to print (\(message.count) characters): \(message.debugDescription.prefix(300))")
    }
}

/// libFuzzer's entry point when the program has its own main.
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(_ argc: UnsafeMutablePointer<Int32>,
                     _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                     _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

initialize()
var argumentCount = CommandLine.argc
var arguments: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(runFuzzerDriver(&argumentCount, &arguments) { testOneInput($0, $1) })

import ArgumentParser
import Engine
import Foundation
import Presses
import Server

/// `tokenpress serve`: the OpenAI-compatible server.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the model over an OpenAI-compatible HTTP API, compressing each request's KV cache as it asks.",
        discussion: """
            Endpoints: POST /v1/chat/completions and /v1/completions (streaming with "stream": true), GET /v1/models, \
            /health, /metrics (Prometheus), /slots (what each running sequence's cache holds), POST /tokenize, \
            /detokenize, and a page at / to chat and watch the cache.

            A request chooses its compression with a top-level "kv_compression" object (OpenAI clients: extra_body), \
            e.g. {"press": "snapkv", "ratio": 0.75}, {"kv_memory": "25%"}, {"cache_type_k": "q8_0", \
            "cache_type_v": "q8_0"}; --press, --ratio, --kv-memory, --cache-type-k/-v set the default for requests \
            that name none. In a chat, the press compresses the conversation before the last user message, and that \
            compressed cache is reused by later requests that start the same way (a document asked several questions).

            Example: tokenpress serve --port 8080 --parallel 4 --kv-memory-total 256MiB
            """)

    @OptionGroup var model: ModelOptions
    @Option(name: .long, help: "Address to listen on (default 127.0.0.1: this machine only).")
    var host = "127.0.0.1"
    @Option(name: .long, help: "Port to listen on (0: any free port, printed once listening).")
    var port = 8080
    @Option(name: .long, help: "Sequences decoded together, their steps batched through the weights; more requests wait.")
    var parallel = 4
    @Option(name: .long, help: "Requests that may wait for a free sequence; more are refused with 503.")
    var queue = 64
    @Option(name: .customLong("kv-memory-total"), help: ArgumentHelp(
        "Bytes of KV cache all running requests may hold together (e.g. 256MiB); a request waits until it fits.",
        valueName: "size"))
    var kvMemoryTotal: String?
    @Option(name: .customLong("cache-ram"), help: ArgumentHelp(
        "Bytes of (compressed) prompt caches kept for reuse by requests that start the same way (0: none).",
        valueName: "size"))
    var cacheRAM = "256MiB"
    @Option(name: .customLong("slot-save-path"), help: ArgumentHelp(
        "Folder for POST /slots/{id}?action=save|restore: cached (compressed) prompts saved to disk and read back.",
        valueName: "dir"))
    var slotSavePath: String?
    @Option(name: .customLong("api-key"), help: "Require 'Authorization: Bearer KEY' (all but /, /health, /v1/models).")
    var apiKey: String?
    @Option(name: .customLong("max-body"), help: ArgumentHelp("Largest request body (413 beyond).", valueName: "size"))
    var maxBody = "8MiB"
    @Option(name: .long, help: "Seconds a request's headers may take to arrive (closed beyond), then its body (408).")
    var timeout = 30
    @Option(name: .long, help: "Name of the model in /v1/models and responses (default: the file's name).")
    var alias: String?
    @Option(name: .long, help: "Default press for requests without kv_compression (see tokenpress presses).")
    var press: String?
    @Option(name: .long, help: "Default ratio with --press.")
    var ratio: Double?
    @Option(name: .customLong("kv-memory"), help: "Default memory target for requests without kv_compression (25%, 24MiB).")
    var kvMemory: String?
    @Option(name: .customLong("max-kl"), help: "Default KL target for requests without kv_compression.")
    var maxKL: Double?
    @Option(name: .customLong("cache-type-k"), help: "Default key cache type (f16, q8_0, q4_0, q4_1, q5_0, q5_1).")
    var cacheTypeK: String?
    @Option(name: .customLong("cache-type-v"), help: "Default value cache type.")
    var cacheTypeV: String?

    func run() throws {
        var configuration = ServerConfiguration()
        configuration.host = host
        guard (0 ... 65535).contains(port) else { throw CLIError("--port must be in 0...65535, got \(port)") }
        configuration.port = port
        guard (1 ... 256).contains(parallel) else {
            throw CLIError("--parallel must be between 1 and 256, got \(parallel)")
        }
        configuration.parallel = parallel
        guard queue >= 0 else { throw CLIError("--queue must be 0 or more, got \(queue)") }
        configuration.queueLimit = queue
        configuration.kvMemoryTotal = try kvMemoryTotal.map { try Self.bytes($0, option: "--kv-memory-total") }
        configuration.cacheRAM = cacheRAM == "0" ? 0 : try Self.bytes(cacheRAM, option: "--cache-ram")
        configuration.maxBodyBytes = try Self.bytes(maxBody, option: "--max-body")
        guard timeout >= 1 else { throw CLIError("--timeout must be at least 1 second, got \(timeout)") }
        configuration.requestTimeoutSeconds = timeout
        if let apiKey, apiKey.isEmpty { throw CLIError("--api-key must not be empty") }
        configuration.apiKey = apiKey
        configuration.slotSavePath = slotSavePath
        var defaults = KVCompressionRequest()
        defaults.press = press
        defaults.ratio = ratio
        defaults.kv_memory = kvMemory
        defaults.max_kl = maxKL
        defaults.cache_type_k = cacheTypeK
        defaults.cache_type_v = cacheTypeV
        configuration.defaultCompression = defaults

        let engine = try model.loadEngine()
        let path = engine.file.path
        configuration.modelName = alias ?? URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        let server: TokenPressServer
        do {
            server = try TokenPressServer(engine: engine, modelPath: path, configuration: configuration,
                                          log: { Console.status($0) })
        } catch let error as ServerError {
            throw CLIError(error.description)
        }
        // The command line runs synchronously; the server runs on Swift's tasks until SIGINT or SIGTERM.
        let finished = DispatchSemaphore(value: 0)
        let failure = FailureBox()
        let name = configuration.modelName
        Task {
            do {
                try await server.run { host, port in
                    Console.status("tokenpress: serving \(name) on http://\(host):\(port)")
                }
            } catch {
                failure.error = error
            }
            finished.signal()
        }
        finished.wait()
        if let error = failure.error { throw CLIError("the server stopped: \(error)") }
    }

    /// A size in bytes (`256MiB`, `8MB`, `1048576`): the memory targets' parser, without shares.
    static func bytes(_ text: String, option: String) throws -> Int {
        guard case .bytes(let bytes) = try CompressionTarget.memory(text, option: option) else {
            throw CLIError("\(option) takes a size such as 256MiB, not a share ('\(text)')")
        }
        return bytes
    }
}

/// The error a server task ended with, handed to the waiting command line.
private final class FailureBox: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: (any Error)?
    var error: (any Error)? {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}

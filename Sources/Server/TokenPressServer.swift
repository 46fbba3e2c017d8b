import Engine
import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ServiceLifecycle
import Tokenizer

/// `tokenpress serve`: an OpenAI-compatible HTTP server over one model, where each request may say how its KV cache
/// is compressed (`kv_compression`), compressed prompts are reused by the requests that start the same way, and up to
/// `parallel` requests decode together.
///
///     let server = try TokenPressServer(engine: engine, modelPath: path, configuration: configuration)
///     try await server.run { host, port in print("listening on http://\(host):\(port)") }
public final class TokenPressServer: Sendable {
    let engine: EngineReference
    let configuration: ServerConfiguration
    let metrics = ServerMetrics()
    let scheduler: GenerationScheduler
    let log: @Sendable (String) -> Void
    private let group = ServiceGroupBox()
    private let closes = ClientCloseRegistry()

    /// - Throws: `APIError` (as its one-line description) when the default compression is invalid.
    public init(engine: InferenceEngine, modelPath: String, configuration: ServerConfiguration,
                log: @escaping @Sendable (String) -> Void = { _ in }) throws {
        self.engine = EngineReference(engine)
        self.configuration = configuration
        self.log = log
        guard configuration.parallel >= 1 else { throw ServerError("--parallel must be at least 1") }
        if let total = configuration.kvMemoryTotal, total < 1 { throw ServerError("--kv-memory-total must be positive") }
        if let folder = configuration.slotSavePath {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
                throw ServerError("--slot-save-path \(folder) is not a folder")
            }
        }
        do {
            _ = try CompressionChoice(configuration.defaultCompression, headDimension: self.engine.headDimension)
        } catch let error as APIError {
            throw ServerError(error.message)
        }
        var settings = GenerationScheduler.Settings()
        settings.parallel = configuration.parallel
        settings.kvMemoryTotal = configuration.kvMemoryTotal
        settings.queueLimit = configuration.queueLimit
        settings.prefixCacheBytes = configuration.cacheRAM
        scheduler = GenerationScheduler(engine: engine, modelPath: modelPath, settings: settings, metrics: metrics,
                                        log: log)
    }

    /// Serves until the task running it is cancelled (or, with `handleSignals`, until SIGINT or SIGTERM).
    /// - Parameter onListening: called with the bound address and port once the server accepts connections.
    public func run(handleSignals: Bool = true,
                    onListening: @escaping @Sendable (String, Int) async -> Void = { _, _ in }) async throws {
        var settings = ServiceGroupConfiguration(services: [makeApplication(onListening: onListening)],
                                                 logger: Self.quietLogger)
        if handleSignals { settings.gracefulShutdownSignals = [.sigterm, .sigint] }
        let services = ServiceGroup(configuration: settings)
        group.value = services
        try await services.run()
    }

    /// The routes, the HTTP/1.1 channel with its per-connection handlers, and the engine thread as a service (it
    /// stops after the HTTP server, so requests running at a graceful shutdown finish): what `run` serves, for a
    /// service group of your own or Hummingbird's test clients.
    public func makeApplication(onListening: @escaping @Sendable (String, Int) async -> Void = { _, _ in })
        -> Application<RouterResponder<ServerRequestContext>> {
        let closes = closes
        let headSeconds = configuration.requestTimeoutSeconds
        // One watcher and one head deadline per connection (the list is an autoclosure).
        let http = HTTP1Channel.Configuration(additionalChannelHandlers: [ClientCloseWatcher(registry: closes),
                                                                          RequestHeadDeadline(seconds: headSeconds)],
                                              idleTimeout: .seconds(Int64(configuration.idleTimeoutSeconds)))
        return Application(
            router: makeRouter(),
            server: .http1(configuration: http),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port),
                                 serverName: "tokenpress"),
            services: [SchedulerService(scheduler: scheduler)],
            onServerRunning: { channel in
                await onListening(self.configuration.host, channel.localAddress?.port ?? self.configuration.port)
            },
            logger: Self.quietLogger)
    }

    /// Stops accepting connections, lets running requests finish, and ends `run`.
    public func shutdown() async {
        await group.value?.triggerGracefulShutdown()
    }

    private static var quietLogger: Logger {
        var logger = Logger(label: "tokenpress")
        logger.logLevel = .warning
        return logger
    }

    func makeRouter() -> Router<ServerRequestContext> {
        let router = Router(context: ServerRequestContext.self)
        router.add(middleware: APIErrorMiddleware(metrics: metrics))
        if let key = configuration.apiKey { router.add(middleware: BearerAuthMiddleware(key: key)) }
        let body = RequestBody(limit: configuration.maxBodyBytes, timeout: configuration.requestTimeoutSeconds)
        let endpoint = GenerationEndpoint(engine: engine, scheduler: scheduler, metrics: metrics,
                                          configuration: configuration)
        // A generation stops when its client goes away: the connection is watched while the answer is made.
        func generation<Body: Decodable & Sendable>(
            _ paths: [String], _ type: Body.Type,
            _ run: @escaping @Sendable (Body, ConnectionWatch) async throws -> Response) {
            for path in paths {
                router.post(RouterPath(path)) { request, context in
                    let decoded = try await body.decode(Body.self, from: request)
                    return try await run(decoded, ConnectionWatch(registry: self.closes, channel: context.connection))
                }
            }
        }
        generation(["/v1/chat/completions", "/chat/completions"], ChatCompletionRequest.self, endpoint.chat)
        generation(["/v1/completions", "/completions"], CompletionRequest.self, endpoint.completion)
        for path in ["/v1/models", "/models"] {
            router.get(RouterPath(path)) { _, _ in self.models() }
        }
        router.get("/health") { _, _ in
            let snapshot = self.scheduler.snapshot
            return OpenAIResponses.json(["status": "ok", "slots_processing": snapshot.sequences.count,
                                         "slots_waiting": snapshot.waiting])
        }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                     body: ResponseBody(byteBuffer: ByteBuffer(string: self.metrics.text)))
        }
        router.get("/slots") { _, _ in
            let data = (try? JSONEncoder().encode(self.scheduler.snapshot)) ?? Data()
            return Response(status: .ok, headers: [.contentType: "application/json"],
                            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
        }
        let slots = SlotEndpoint(scheduler: scheduler, folder: configuration.slotSavePath)
        router.post("/slots/:id") { request, context in
            let id = context.parameters.get("id") ?? ""
            let action = request.uri.queryParameters.get("action")
            return try await slots.handle(id: id, action: action) {
                try await body.decode(SlotEndpoint.FileRequest.self, from: request)
            }
        }
        router.post("/tokenize") { request, _ in
            try self.tokenize(try await body.decode(TokenizeRequest.self, from: request))
        }
        router.post("/detokenize") { request, _ in
            try self.detokenize(try await body.decode(DetokenizeRequest.self, from: request))
        }
        router.get("/") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
                     body: ResponseBody(byteBuffer: ByteBuffer(string: ServerPage.html)))
        }
        return router
    }

    private func models() -> Response {
        let engine = engine.engine
        let c = engine.model.configuration
        let meta: [String: Any] = ["n_ctx_train": c.contextLength, "n_vocab": c.vocabularySize,
                                   "n_embd": c.embeddingLength, "n_layer": c.layerCount,
                                   "architecture": c.architecture]
        let model: [String: Any] = ["id": configuration.modelName, "object": "model", "created": 0,
                                    "owned_by": "tokenpress", "meta": meta]
        return OpenAIResponses.json(["object": "list", "data": [model]])
    }

    private func tokenize(_ request: TokenizeRequest) throws -> Response {
        let tokenizer = engine.engine.tokenizer
        let tokens = tokenizer.encode(request.content, addSpecial: request.add_special ?? false)
        guard request.with_pieces == true else { return OpenAIResponses.json(["tokens": tokens]) }
        let pieces: [[String: Any]] = tokens.map { token in
            let bytes = tokenizer.piece(token)
            let text = String(validating: bytes, as: UTF8.self)
            return ["id": token, "piece": text.map { $0 as Any } ?? bytes.map(Int.init)]
        }
        return OpenAIResponses.json(["tokens": pieces])
    }

    private func detokenize(_ request: DetokenizeRequest) throws -> Response {
        let tokenizer = engine.engine.tokenizer
        let vocabulary = tokenizer.vocabulary.count
        if let bad = request.tokens.firstIndex(where: { $0 < 0 || $0 >= vocabulary }) {
            let why = "'tokens[\(bad)]' is \(request.tokens[bad]), outside the vocabulary of \(vocabulary)"
            throw APIError.invalid(why, param: "tokens")
        }
        return OpenAIResponses.json(["content": tokenizer.decode(request.tokens)])
    }
}

/// The running service group, for `shutdown()` from another task.
private final class ServiceGroupBox: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: ServiceGroup?
    var value: ServiceGroup? {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}

/// A configuration the server cannot start with, in one line.
public struct ServerError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}

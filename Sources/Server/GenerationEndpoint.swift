import Engine
import Foundation
import Hummingbird
import Sampling
import Tokenizer

/// `/v1/chat/completions` and `/v1/completions`: checks a request, turns it into a `GenerationJob`, and answers with
/// one JSON body or a stream of server-sent events ending with `data: [DONE]`.
struct GenerationEndpoint: Sendable {
    enum Kind: Sendable { case chat, completion }

    let engine: EngineReference
    let scheduler: GenerationScheduler
    let metrics: ServerMetrics
    let configuration: ServerConfiguration

    /// A checked request: the job to run and how to answer.
    struct Prepared {
        let job: GenerationJob
        let events: AsyncStream<JobEvent>
        let stream: Bool
        let includeUsage: Bool
        let echo: String?
        let model: String
    }

    /// - Parameter connection: the generation is cancelled if the client goes away before the answer is complete.
    func chat(_ request: ChatCompletionRequest, connection: ConnectionWatch) async throws -> Response {
        let engine = engine.engine
        guard !request.messages.isEmpty else { throw APIError.invalid("'messages' must not be empty", param: "messages") }
        var messages: [ChatMessage] = []
        for (index, message) in request.messages.enumerated() {
            guard ["system", "user", "assistant", "developer"].contains(message.role) else {
                let why = "'messages[\(index)].role' must be system, user or assistant, not '\(message.role)'"
                throw APIError.invalid(why, param: "messages")
            }
            let role = message.role == "developer" ? "system" : message.role
            messages.append(ChatMessage(role: role, content: message.content?.text ?? ""))
        }
        let template: ChatTemplate
        do {
            template = try engine.chatTemplate()
        } catch {
            throw APIError.invalid("this model has no chat template; use /v1/completions", param: "messages")
        }
        let text = template.render(messages)
        let prompt = engine.tokenizer.encode(text)
        // The press compresses the conversation before the last user message, so a new question about the same
        // document (or the same earlier turns) reuses it; a lone message is compressed whole.
        var compressedPrefix = prompt.count
        if messages.count > 1, messages.last?.role == "user" {
            let before = template.render(Array(messages.dropLast()), addGenerationPrompt: false)
            let tokens = engine.tokenizer.encode(before)
            if text.hasPrefix(before), !tokens.isEmpty, tokens.count < prompt.count, prompt.starts(with: tokens) {
                compressedPrefix = tokens.count
            }
        }
        if request.top_logprobs != nil, request.logprobs != true {
            throw APIError.invalid("'top_logprobs' needs 'logprobs': true", param: "top_logprobs")
        }
        let top = request.logprobs == true ? (request.top_logprobs ?? 0) : nil
        let prepared = try prepare(request.fields, prompt: prompt, compressedPrefix: compressedPrefix, topLogprobs: top,
                                   echo: nil)
        let job = prepared.job
        connection.onClose { job.cancel() }
        return try await respond(prepared, kind: .chat, connection: connection)
    }

    func completion(_ request: CompletionRequest, connection: ConnectionWatch) async throws -> Response {
        let engine = engine.engine
        guard request.prompt.values.count == 1, let text = request.prompt.values.first else {
            throw APIError.invalid("'prompt' must be one string (batches of prompts are not supported)", param: "prompt")
        }
        let prompt = engine.tokenizer.encode(text)
        let prepared = try prepare(request.fields, prompt: prompt, compressedPrefix: prompt.count,
                                   topLogprobs: request.logprobs, echo: request.echo == true ? text : nil)
        let job = prepared.job
        connection.onClose { job.cancel() }
        return try await respond(prepared, kind: .completion, connection: connection)
    }

    /// Checks the sampling fields, the token budget and the compression, and queues the job.
    func prepare(_ fields: GenerationFields, prompt: [Int], compressedPrefix: Int, topLogprobs: Int?,
                 echo: String?) throws -> Prepared {
        let engine = engine.engine
        metrics.requests.increment()
        guard !prompt.isEmpty else { throw APIError.invalid("the prompt is empty", param: "prompt") }
        let context = engine.contextLength
        guard prompt.count < context else {
            let why = "the prompt has \(prompt.count) tokens; this model's context holds \(context)"
            throw APIError(status: .badRequest, message: why, type: "invalid_request_error", param: "messages",
                           code: "context_length_exceeded")
        }
        if let n = fields.n, n != 1 { throw APIError.invalid("'n' must be 1 (one choice per request)", param: "n") }
        let maxTokens = try Self.maxTokens(fields, prompt: prompt.count, context: context)
        if let top = topLogprobs, !(0 ... 20).contains(top) {
            throw APIError.invalid("log-probability alternatives must be between 0 and 20, got \(top)", param: "logprobs")
        }
        let sampling = try Self.sampling(fields)
        let stops = fields.stop?.values ?? []
        guard stops.count <= 4, stops.allSatisfy({ $0.count <= 256 }) else {
            throw APIError.invalid("'stop' takes at most 4 strings of at most 256 characters", param: "stop")
        }
        let asked = fields.kv_compression ?? KVCompressionRequest()
        let request = asked.isEmpty ? configuration.defaultCompression : asked
        let compression = try CompressionChoice(request, headDimension: self.engine.headDimension)
        let (events, continuation) = AsyncStream<JobEvent>.makeStream()
        let job = GenerationJob(prompt: prompt, compressedPrefix: compression.hasPress ? compressedPrefix : prompt.count,
                                compression: compression, sampling: sampling, stopStrings: stops, maxTokens: maxTokens,
                                topLogprobs: topLogprobs, events: continuation)
        job.ignoresEndOfGeneration = fields.ignore_eos == true
        try scheduler.submit(job)
        return Prepared(job: job, events: events, stream: fields.stream == true,
                        includeUsage: fields.stream_options?.include_usage == true, echo: echo,
                        model: fields.model ?? configuration.modelName)
    }

    /// `max_tokens` (or `max_completion_tokens`): at most what the context leaves; by default all of it.
    static func maxTokens(_ fields: GenerationFields, prompt: Int, context: Int) throws -> Int {
        let room = context - prompt
        guard let asked = fields.max_completion_tokens ?? fields.max_tokens, asked != -1 else { return room }
        let name = fields.max_completion_tokens != nil ? "max_completion_tokens" : "max_tokens"
        guard asked >= 1 else { throw APIError.invalid("'\(name)' must be at least 1, got \(asked)", param: name) }
        guard asked <= room else {
            let why = "'\(name)' is \(asked), but the prompt's \(prompt) tokens leave \(room) of the "
                + "\(context)-token context"
            throw APIError(status: .badRequest, message: why, type: "invalid_request_error", param: name,
                           code: "context_length_exceeded")
        }
        return asked
    }

    /// The sampling fields, range-checked (llama-server's defaults where OpenAI has none).
    static func sampling(_ fields: GenerationFields) throws -> SamplingParameters {
        var sampling = SamplingParameters()
        func check(_ ok: Bool, _ name: String, _ range: String) throws {
            if !ok { throw APIError.invalid("'\(name)' must be \(range)", param: name) }
        }
        if let t = fields.temperature {
            try check(t.isFinite && t >= 0 && t <= 2, "temperature", "between 0 and 2")
            sampling.temperature = Float(t)
        }
        if let p = fields.top_p {
            try check(p.isFinite && p > 0 && p <= 1, "top_p", "in (0, 1]")
            sampling.topP = Float(p)
        }
        if let k = fields.top_k {
            try check(k >= 0, "top_k", "0 (off) or more")
            sampling.topK = k
        }
        if let p = fields.min_p {
            try check(p.isFinite && p >= 0 && p <= 1, "min_p", "in [0, 1]")
            sampling.minP = Float(p)
        }
        if let r = fields.repeat_penalty {
            try check(r.isFinite && r > 0 && r <= 10, "repeat_penalty", "in (0, 10]")
            sampling.repetitionPenalty = Float(r)
        }
        if let seed = fields.seed {
            sampling.seed = UInt64(bitPattern: Int64(seed))
        } else {
            sampling.seed = UInt64.random(in: 0 ... UInt64.max)
        }
        if sampling.temperature == 0 {
            let seed = sampling.seed
            sampling = .greedy
            sampling.seed = seed
            sampling.repetitionPenalty = Float(fields.repeat_penalty ?? 1)
        }
        return sampling
    }

    // MARK: Answers

    private func respond(_ prepared: Prepared, kind: Kind, connection: ConnectionWatch) async throws -> Response {
        let id = (kind == .chat ? "chatcmpl-" : "cmpl-") + UUID().uuidString.lowercased().prefix(24)
        let created = Int(Date().timeIntervalSince1970)
        if prepared.stream {
            return stream(prepared, kind: kind, id: id, created: created, connection: connection)
        }
        defer { connection.done() }
        var text = prepared.echo ?? ""
        var logprobs: [TokenLogprob] = []
        let job = prepared.job
        let outcome: JobOutcome = try await withTaskCancellationHandler {
            for await event in prepared.events {
                switch event {
                case .text(let piece): text += piece
                case .token(let token): logprobs.append(token)
                case .finished(let outcome): return outcome
                case .failed(let error): throw error
                }
            }
            throw APIError.server("the generation ended without a result")
        } onCancel: {
            job.cancel()
        }
        let finish = OpenAIResponses.finishReason(outcome.result.stopReason)
        var choice: [String: Any] = ["index": 0, "finish_reason": finish]
        let wantsLogprobs = job.topLogprobs != nil
        switch kind {
        case .chat:
            choice["message"] = ["role": "assistant", "content": text]
            choice["logprobs"] = wantsLogprobs ? OpenAIResponses.chatLogprobs(logprobs) : NSNull()
        case .completion:
            choice["text"] = text
            let offset = prepared.echo?.count ?? 0
            choice["logprobs"] = wantsLogprobs ? OpenAIResponses.completionLogprobs(logprobs, offset: offset) : NSNull()
        }
        let body: [String: Any] = [
            "id": id, "object": kind == .chat ? "chat.completion" : "text_completion", "created": created,
            "model": prepared.model, "choices": [choice], "usage": OpenAIResponses.usage(outcome),
            "timings": OpenAIResponses.timings(outcome), "kv_cache": OpenAIResponses.kvCache(outcome),
        ]
        return OpenAIResponses.json(body)
    }

    /// Server-sent events: a chunk per piece of text, a last chunk with the finish reason, `timings` and `kv_cache`
    /// (and `usage` when `stream_options.include_usage`), then `data: [DONE]`. A client that goes away cancels the
    /// generation and frees its cache (noticed when a write fails, or by `connection` before the first one).
    private func stream(_ prepared: Prepared, kind: Kind, id: String, created: Int, connection: ConnectionWatch)
        -> Response {
        let object = kind == .chat ? "chat.completion.chunk" : "text_completion"
        let model = prepared.model
        let job = prepared.job
        let events = prepared.events
        let includeUsage = prepared.includeUsage
        let echo = prepared.echo
        let wantsLogprobs = job.topLogprobs != nil
        @Sendable func chunk(_ choice: [String: Any]) -> String {
            OpenAIResponses.event(["id": id, "object": object, "created": created, "model": model, "choices": [choice]])
        }
        @Sendable func textChoice(_ text: String, logprobs: [TokenLogprob]) -> [String: Any] {
            var choice: [String: Any] = ["index": 0, "finish_reason": NSNull()]
            switch kind {
            case .chat:
                choice["delta"] = ["content": text]
                choice["logprobs"] = wantsLogprobs ? OpenAIResponses.chatLogprobs(logprobs) : NSNull()
            case .completion:
                choice["text"] = text
                choice["logprobs"] = wantsLogprobs ? OpenAIResponses.completionLogprobs(logprobs, offset: 0) : NSNull()
            }
            return choice
        }
        let headers: HTTPFields = [.contentType: "text/event-stream", .cacheControl: "no-cache"]
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            // Watched until the last event: a client that leaves while its prompt is still being read is noticed.
            defer { connection.done() }
            func send(_ text: String) async throws {
                do {
                    try await writer.write(ByteBuffer(string: text))
                } catch {
                    job.cancel()
                    throw error
                }
            }
            if kind == .chat {
                let opening: [String: Any] = ["role": "assistant", "content": ""]
                try await send(chunk(["index": 0, "delta": opening, "finish_reason": NSNull()]))
            }
            if let echo { try await send(chunk(textChoice(echo, logprobs: []))) }
            var pending: [TokenLogprob] = []
            for await event in events {
                switch event {
                case .token(let token):
                    pending.append(token)
                case .text(let piece):
                    try await send(chunk(textChoice(piece, logprobs: pending)))
                    pending = []
                case .finished(let outcome):
                    var last: [String: Any] = ["index": 0,
                                               "finish_reason": OpenAIResponses.finishReason(outcome.result.stopReason)]
                    last[kind == .chat ? "delta" : "text"] = kind == .chat ? [String: Any]() : ""
                    var body: [String: Any] = ["id": id, "object": object, "created": created, "model": model,
                                               "choices": [last], "timings": OpenAIResponses.timings(outcome),
                                               "kv_cache": OpenAIResponses.kvCache(outcome)]
                    try await send(OpenAIResponses.event(body))
                    if includeUsage {
                        body = ["id": id, "object": object, "created": created, "model": model, "choices": [],
                                "usage": OpenAIResponses.usage(outcome)]
                        try await send(OpenAIResponses.event(body))
                    }
                case .failed(let error):
                    try await send(error.streamEvent)
                }
            }
            try await send("data: [DONE]\n\n")
            try await writer.finish(nil)
        })
    }
}

/// The engine, shared by the handlers for what is safe to do off the engine thread: tokenizing and reading the
/// model's fixed description.
struct EngineReference: @unchecked Sendable {
    let engine: InferenceEngine
    let headDimension: Int

    init(_ engine: InferenceEngine) {
        self.engine = engine
        headDimension = engine.model.makeCache().headDimension
    }
}

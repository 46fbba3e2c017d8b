// The request bodies of the OpenAI-compatible endpoints (https://platform.openai.com/docs/api-reference), with the
// fields llama-server also reads (top_k, min_p, repeat_penalty) and TokenPress's own `kv_compression`.

/// A string or a list of strings (`stop`, `prompt`).
struct OneOrMany: Decodable, Sendable {
    let values: [String]

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let one = try? container.decode(String.self) {
            values = [one]
        } else {
            values = try container.decode([String].self)
        }
    }
}

/// A message's content: a string, or a list of parts of which the text parts are read.
struct MessageContent: Decodable, Sendable {
    let text: String

    struct Part: Decodable, Sendable {
        let type: String
        let text: String?
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let plain = try? container.decode(String.self) {
            text = plain
            return
        }
        let parts = try container.decode([Part].self)
        if let other = parts.first(where: { $0.type != "text" }) {
            throw APIError.invalid("content parts of type '\(other.type)' are not supported (text only)", param: "messages")
        }
        text = parts.compactMap(\.text).joined()
    }
}

struct ChatMessageInput: Decodable, Sendable {
    let role: String
    let content: MessageContent?
}

/// `stream_options`: `include_usage` adds a last chunk with the usage, as OpenAI does.
struct StreamOptions: Decodable, Sendable {
    let include_usage: Bool?
}

/// How the request's KV cache is compressed (sent by OpenAI clients as `extra_body={"kv_compression": {...}}`).
/// Also the server's defaults (`tokenpress serve --press …`), used by requests that name no compression.
public struct KVCompressionRequest: Decodable, Sendable, Equatable {
    /// A press specification as `--press` takes it: `snapkv`, `snapkv@0.5+kivi:bits=4`, `target:memory=25%`.
    public var press: String?
    public var ratio: Double?
    /// Tokens kept per head instead of a ratio.
    public var budget: Int?
    public var cache_type_k: String?
    public var cache_type_v: String?
    public var kv_rotate: Bool?
    /// The allocator's memory target: `24MiB`, `512KiB`, `25%`, `0.25` or a number of bytes.
    public var kv_memory: String?
    public var max_kl: Double?
    public var retrieval_prior: Double?
    /// The share of KV heads (best retrieval scores first) a target never evicts from.
    public var retrieval_heads: Double?

    public init() {}

    enum CodingKeys: String, CodingKey {
        case press, ratio, budget, cache_type_k, cache_type_v, kv_rotate, kv_memory, max_kl, retrieval_prior
        case retrieval_heads
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        press = try c.decodeIfPresent(String.self, forKey: .press)
        ratio = try c.decodeIfPresent(Double.self, forKey: .ratio)
        budget = try c.decodeIfPresent(Int.self, forKey: .budget)
        cache_type_k = try c.decodeIfPresent(String.self, forKey: .cache_type_k)
        cache_type_v = try c.decodeIfPresent(String.self, forKey: .cache_type_v)
        kv_rotate = try c.decodeIfPresent(Bool.self, forKey: .kv_rotate)
        // A memory target may come as a string ("24MiB") or as a number (of bytes, or a share below 1).
        if let number = try? c.decodeIfPresent(Double.self, forKey: .kv_memory) {
            kv_memory = number < 1 ? "\(number)" : "\(Int(number))"
        } else {
            kv_memory = try c.decodeIfPresent(String.self, forKey: .kv_memory)
        }
        max_kl = try c.decodeIfPresent(Double.self, forKey: .max_kl)
        retrieval_prior = try c.decodeIfPresent(Double.self, forKey: .retrieval_prior)
        retrieval_heads = try c.decodeIfPresent(Double.self, forKey: .retrieval_heads)
    }

    /// True when the request names no compression at all (the server's defaults then apply).
    public var isEmpty: Bool { self == KVCompressionRequest() }
}

/// The fields `/v1/chat/completions` and `/v1/completions` share.
struct GenerationFields: Decodable, Sendable {
    let model: String?
    let stream: Bool?
    let stream_options: StreamOptions?
    let max_tokens: Int?
    let max_completion_tokens: Int?
    let n: Int?
    let temperature: Double?
    let top_p: Double?
    let top_k: Int?
    let min_p: Double?
    let seed: Int?
    let repeat_penalty: Double?
    let stop: OneOrMany?
    /// Keep generating past the end-of-generation token (llama-server's extension).
    let ignore_eos: Bool?
    let kv_compression: KVCompressionRequest?
}

struct ChatCompletionRequest: Decodable, Sendable {
    let messages: [ChatMessageInput]
    let logprobs: Bool?
    let top_logprobs: Int?
    let fields: GenerationFields

    enum CodingKeys: String, CodingKey { case messages, logprobs, top_logprobs }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        messages = try c.decode([ChatMessageInput].self, forKey: .messages)
        logprobs = try c.decodeIfPresent(Bool.self, forKey: .logprobs)
        top_logprobs = try c.decodeIfPresent(Int.self, forKey: .top_logprobs)
        fields = try GenerationFields(from: decoder)
    }
}

struct CompletionRequest: Decodable, Sendable {
    let prompt: OneOrMany
    /// The number of most likely tokens to report with each generated token (0: the chosen token's only).
    let logprobs: Int?
    let echo: Bool?
    let fields: GenerationFields

    enum CodingKeys: String, CodingKey { case prompt, logprobs, echo }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        prompt = try c.decode(OneOrMany.self, forKey: .prompt)
        logprobs = try c.decodeIfPresent(Int.self, forKey: .logprobs)
        echo = try c.decodeIfPresent(Bool.self, forKey: .echo)
        fields = try GenerationFields(from: decoder)
    }
}

struct TokenizeRequest: Decodable, Sendable {
    let content: String
    let add_special: Bool?
    let with_pieces: Bool?
}

struct DetokenizeRequest: Decodable, Sendable {
    let tokens: [Int]
}

import Engine
import Foundation
import Hummingbird

/// Builds the JSON bodies of the OpenAI-compatible responses (and llama-server's `timings`), as dictionaries so
/// that nulls are written where OpenAI writes them.
enum OpenAIResponses {
    typealias Object = [String: Any]

    static func json(_ object: Any, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"],
                 body: ResponseBody(byteBuffer: ByteBuffer(bytes: data(object))))
    }

    static func data(_ object: Any) -> Data {
        (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
    }

    /// One server-sent event carrying `object`.
    static func event(_ object: Any) -> String {
        "data: " + String(decoding: data(object), as: UTF8.self) + "\n\n"
    }

    /// OpenAI's `finish_reason` for a stop reason.
    static func finishReason(_ reason: StopReason) -> String {
        switch reason {
        case .maxTokens, .contextFull: "length"
        case .endOfGeneration, .stopString, .condition: "stop"
        }
    }

    static func usage(_ outcome: JobOutcome) -> Object {
        let statistics = outcome.result.statistics
        let prompt = statistics.promptTokens + outcome.cachedTokens
        return ["prompt_tokens": prompt, "completion_tokens": statistics.generatedTokens,
                "total_tokens": prompt + statistics.generatedTokens,
                "prompt_tokens_details": ["cached_tokens": outcome.cachedTokens]]
    }

    /// llama-server's `timings` block.
    static func timings(_ outcome: JobOutcome) -> Object {
        let s = outcome.result.statistics
        let promptMs = s.prefillSeconds * 1000
        let predictedMs = s.decodeSeconds * 1000
        return ["prompt_n": s.promptTokens, "prompt_ms": promptMs,
                "prompt_per_token_ms": s.promptTokens > 0 ? promptMs / Double(s.promptTokens) : 0,
                "prompt_per_second": s.prefillTokensPerSecond,
                "predicted_n": s.generatedTokens, "predicted_ms": predictedMs,
                "predicted_per_token_ms": s.generatedTokens > 0 ? predictedMs / Double(s.generatedTokens) : 0,
                "predicted_per_second": s.decodeTokensPerSecond, "cache_n": outcome.cachedTokens,
                "queue_ms": outcome.queuedSeconds * 1000]
    }

    /// TokenPress's `kv_cache` block: what the cache held once the prompt was in, against a dense f16 cache.
    static func kvCache(_ outcome: JobOutcome) -> Object {
        let s = outcome.result.statistics
        let dense = s.denseCacheBytesAfterPrompt
        let held = s.cacheBytesAfterPrompt
        return ["bytes": held, "dense_f16_bytes": dense, "saved_bytes": dense - held,
                "saving": dense > 0 ? 1 - Double(held) / Double(dense) : 0, "peak_bytes": s.peakCacheBytes,
                "bits_per_element": s.bitsPerElementAfterPrompt, "layer_bytes": s.layerBytesAfterPrompt,
                "applied": outcome.applied]
    }

    /// The log-probabilities of a chat response (`choices[].logprobs.content`).
    static func chatLogprobs(_ tokens: [TokenLogprob]) -> Object {
        func entry(_ text: String, _ logprob: Double) -> Object {
            ["token": text, "logprob": logprob, "bytes": Array(text.utf8).map(Int.init)]
        }
        return ["content": tokens.map { token in
            var object = entry(token.text, token.logprob)
            object["top_logprobs"] = token.top.map { entry($0.text, $0.logprob) }
            return object
        }]
    }

    /// The log-probabilities of a completion (`choices[].logprobs`, the legacy layout).
    static func completionLogprobs(_ tokens: [TokenLogprob], offset: Int) -> Object {
        var offsets: [Int] = []
        var position = offset
        for token in tokens {
            offsets.append(position)
            position += token.text.count
        }
        let top: [Object] = tokens.map { token in
            Dictionary(token.top.map { ($0.text, $0.logprob) as (String, Any) }, uniquingKeysWith: { first, _ in first })
        }
        return ["tokens": tokens.map(\.text), "token_logprobs": tokens.map(\.logprob), "top_logprobs": top,
                "text_offset": offsets]
    }
}

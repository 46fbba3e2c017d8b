import Foundation
import Prometheus

/// The server's counters and gauges in Prometheus's text format at `GET /metrics`, named `tokenpress:…` as
/// llama-server names its own `llamacpp:…`.
final class ServerMetrics: Sendable {
    let registry: PrometheusCollectorRegistry
    let requests: Counter
    let failedRequests: Counter
    let cancelledRequests: Counter
    let promptTokens: Counter
    let cachedPromptTokens: Counter
    let generatedTokens: Counter
    let prefixCacheHits: Counter
    let promptTokensPerSecond: Gauge
    let generatedTokensPerSecond: Gauge
    let processing: Gauge
    let deferred: Gauge
    let kvBytes: Gauge
    let kvDenseBytes: Gauge
    let kvSavedBytes: Gauge
    let prefixCacheBytes: Gauge
    let decodeBatch: Gauge
    let decodeBatchPeak: Gauge
    let processingPeak: Gauge

    init() {
        let registry = PrometheusCollectorRegistry()
        self.registry = registry
        func counter(_ name: String, _ help: String) -> Counter {
            registry.makeCounter(name: "tokenpress:" + name, help: help)
        }
        func gauge(_ name: String, _ help: String) -> Gauge {
            registry.makeGauge(name: "tokenpress:" + name, help: help)
        }
        requests = counter("requests_total", "Generation requests received.")
        failedRequests = counter("requests_failed_total", "Requests answered with an error.")
        cancelledRequests = counter("requests_cancelled_total", "Generations stopped because their client went away.")
        promptTokens = counter("prompt_tokens_total", "Prompt tokens of finished generations.")
        cachedPromptTokens = counter("prompt_tokens_cached_total", "Prompt tokens taken from the prefix cache.")
        generatedTokens = counter("tokens_predicted_total", "Generated tokens.")
        prefixCacheHits = counter("prefix_cache_hits_total",
                                  "Requests that continued a cached, possibly compressed, prompt.")
        promptTokensPerSecond = gauge("prompt_tokens_seconds", "Prompt tokens read per second, last request.")
        generatedTokensPerSecond = gauge("predicted_tokens_seconds", "Tokens generated per second, last request.")
        processing = gauge("requests_processing", "Sequences being read or decoded.")
        deferred = gauge("requests_deferred", "Requests waiting in the queue.")
        kvBytes = gauge("kv_cache_bytes", "Bytes of KV cache the running sequences hold.")
        kvDenseBytes = gauge("kv_cache_dense_bytes", "Bytes the same tokens would take in a dense f16 cache.")
        kvSavedBytes = gauge("kv_cache_saved_bytes", "Dense f16 bytes less the bytes held, running sequences.")
        prefixCacheBytes = gauge("prefix_cache_bytes", "Bytes held by cached prompts kept for reuse.")
        decodeBatch = gauge("decode_batch_size", "Sequences in the last batched decode step.")
        decodeBatchPeak = gauge("decode_batch_size_max", "Most sequences in one decode step since the start.")
        processingPeak = gauge("requests_processing_max", "Most sequences running at once since the start.")
    }

    /// The metrics in Prometheus's text exposition format.
    var text: String {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }
}

import KVCache
import Sampling

extension InferenceEngine {
    /// Continues one prompt from several caches at once — the same prompt compressed in different ways, as
    /// `tokenpress eval` asks every configuration the same question — and returns each cache's generation, the same
    /// tokens and text `generate(prompt:cache:)` gives it alone. Each cache first takes the part of the prompt it
    /// does not hold; then the sequences decode together (`LanguageModel.forward(batch:caches:)`), one token each
    /// per step through the weights, each stopping at its own end.
    /// - Parameter until: ends a sequence once its text satisfies it (as in `generate`).
    public func generateTogether(prompt: [Int], maxTokens: Int, caches: [KVCache],
                                 until: ((String) -> Bool)? = nil) throws -> [GenerationResult] {
        try checkGeneration(prompt: prompt, maxTokens: maxTokens)
        var sequences: [SequenceDecoder] = []
        var logits: [[Float]] = []
        for cache in caches {
            sequences.append(SequenceDecoder(prompt: prompt, maxTokens: maxTokens, sampling: .greedy, stopStrings: [],
                                             tokenizer: tokenizer, contextLength: contextLength, until: until))
            // The last prompt token must run again to give fresh logits.
            if cache.nextPosition >= prompt.count { cache.removeAll() }
            logits.append(try prefill(Array(prompt[cache.nextPosition...]), cache: cache))
        }
        let vocabulary = model.configuration.vocabularySize
        while true {
            var running: [Int] = []
            var tokens: [Int] = []
            for s in sequences.indices where !sequences[s].isFinished {
                let token = try sequences[s].next(logits: logits[s], cache: caches[s], press: nil, onText: { _ in })
                guard let token else { continue }
                running.append(s)
                tokens.append(token)
            }
            guard !running.isEmpty else { break }
            let rows = try model.forward(batch: tokens, caches: running.map { caches[$0] })
            for (row, s) in running.enumerated() {
                logits[s] = Array(rows[row * vocabulary ..< (row + 1) * vocabulary])
            }
        }
        return sequences.indices.map { sequences[$0].finish(onText: { _ in }) }
    }
}

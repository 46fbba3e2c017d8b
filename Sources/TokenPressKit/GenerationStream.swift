/// What a streamed generation yields: the text as it is decoded, then the whole result.
public enum GenerationEvent: Sendable {
    /// The next piece of text (whole characters: a multi-byte character waits for its last token).
    case text(String)
    /// Generation ended; the result holds every token, the stop reason and the cache statistics.
    case finished(GenerationResult)
}

/// A generation as an `AsyncSequence` of `GenerationEvent`s. It starts when iterated; a consumer that stops
/// iterating (or whose task is cancelled) cancels it, and generation stops after the token being decoded.
public struct GenerationStream: AsyncSequence, Sendable {
    public typealias Element = GenerationEvent
    let run: @Sendable (@escaping @Sendable (String) -> Void) async throws -> GenerationResult

    init(run: @escaping @Sendable (@escaping @Sendable (String) -> Void) async throws -> GenerationResult) {
        self.run = run
    }

    /// Checked after every token: stops the generation once its task is cancelled.
    static let untilCancelled: @Sendable (String) -> Bool = { _ in Task.isCancelled }

    public func makeAsyncIterator() -> AsyncThrowingStream<GenerationEvent, any Error>.Iterator {
        let run = run
        let stream = AsyncThrowingStream<GenerationEvent, any Error> { continuation in
            let task = Task {
                do {
                    let result = try await run { continuation.yield(.text($0)) }
                    continuation.yield(.finished(result))
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
        return stream.makeAsyncIterator()
    }

    /// The text of the whole generation, once it has finished.
    public func text() async throws -> String {
        var text = ""
        for try await event in self {
            if case .text(let piece) = event { text += piece }
        }
        return text
    }
}

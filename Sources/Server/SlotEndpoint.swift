import Engine
import Foundation
import Hummingbird

/// `POST /slots/{id}?action=save|restore|erase` as llama-server names them, over the server's cached prompts (the
/// `prompt_caches` of `GET /slots`): save one to a file in `--slot-save-path`, read a file back as a new cached prompt
/// (its id is in the answer; the path's id is not used), or drop one.
struct SlotEndpoint: Sendable {
    let scheduler: GenerationScheduler
    let folder: String?

    struct FileRequest: Decodable, Sendable {
        let filename: String
    }

    func handle(id text: String, action: String?, body: @escaping @Sendable () async throws -> FileRequest?)
        async throws -> Response {
        guard let id = Int(text), id >= 0 else { throw APIError.invalid("the slot id '\(text)' is not a number") }
        switch action {
        case "save": return try await save(id, try await file(body))
        case "restore": return try await restore(try await file(body))
        case "erase": return try await erase(id)
        default: throw APIError.invalid("'action' must be save, restore or erase", param: "action")
        }
    }

    private func file(_ body: () async throws -> FileRequest?) async throws -> URL {
        guard let folder else {
            throw APIError(status: .notImplemented,
                           message: "saving slots is off: start the server with --slot-save-path DIR",
                           type: "not_supported_error", param: nil, code: nil)
        }
        guard let request = try await body() else { throw APIError.invalid("'filename' is required", param: "filename") }
        return try SlotFile.url(request.filename, in: folder)
    }

    private func save(_ id: Int, _ url: URL) async throws -> Response {
        let started = ContinuousClock.now
        let (tokens, bytes) = try await scheduler.perform { prefixCache, engine in
            guard let entry = prefixCache.entry(id) else {
                throw APIError.notFound("no cached prompt \(id) (see GET /slots)")
            }
            let bytes = try SlotFile.encode(entry, engine: engine)
            // Written beside the target and moved over it: a failed save leaves any earlier file whole.
            let partial = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).partial")
            do {
                try Data(bytes).write(to: partial)
                _ = try? FileManager.default.removeItem(at: url)
                try FileManager.default.moveItem(at: partial, to: url)
            } catch {
                try? FileManager.default.removeItem(at: partial)
                throw APIError.server("cannot write \(url.lastPathComponent): \(error.localizedDescription)")
            }
            return (entry.tokens.count, bytes.count)
        }
        return OpenAIResponses.json(["id_slot": id, "filename": url.lastPathComponent, "n_saved": tokens,
                                     "n_written": bytes, "timings": ["save_ms": milliseconds(since: started)]])
    }

    private func restore(_ url: URL) async throws -> Response {
        let started = ContinuousClock.now
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw APIError.notFound("no slot file '\(url.lastPathComponent)'")
        }
        let (id, tokens) = try await scheduler.perform { prefixCache, engine in
            let entry = try SlotFile.decode(Array(data), engine: engine)
            guard let id = prefixCache.insert(entry) else {
                throw APIError.invalid("the cached prompt (\(entry.bytes) bytes) is larger than --cache-ram")
            }
            return (id, entry.tokens.count)
        }
        return OpenAIResponses.json(["id_slot": id, "filename": url.lastPathComponent, "n_restored": tokens,
                                     "n_read": data.count, "timings": ["restore_ms": milliseconds(since: started)]])
    }

    private func erase(_ id: Int) async throws -> Response {
        let erased = try await scheduler.perform { prefixCache, _ in prefixCache.remove(id) }
        guard erased else { throw APIError.notFound("no cached prompt \(id) (see GET /slots)") }
        return OpenAIResponses.json(["id_slot": id, "n_erased": 1])
    }

    private func milliseconds(since start: ContinuousClock.Instant) -> Double {
        (ContinuousClock.now - start).seconds * 1000
    }
}

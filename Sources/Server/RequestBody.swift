import Foundation
import Hummingbird

/// Reads a request's JSON body: at most `limit` bytes (413 beyond), within `timeout` seconds (408 beyond, so a client
/// trickling its body cannot hold a connection), decoded with errors that name the field.
struct RequestBody {
    let limit: Int
    let timeout: Int

    func decode<T: Decodable>(_ type: T.Type, from request: Request) async throws -> T {
        let bytes = try await read(request)
        do {
            return try JSONDecoder().decode(T.self, from: bytes)
        } catch let error as DecodingError {
            throw APIError(decoding: error)
        }
    }

    func read(_ request: Request) async throws -> Data {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
            throw APIError.tooLarge(limit: limit)
        }
        let limit = limit
        let timeout = timeout
        let collected = try await withThrowingTaskGroup(of: ByteBuffer?.self) { group in
            group.addTask {
                var request = request
                do {
                    return try await request.collectBody(upTo: limit)
                } catch let error as HTTPError where error.status == .contentTooLarge {
                    throw APIError.tooLarge(limit: limit)
                }
            }
            group.addTask {
                try await Task.sleep(for: .seconds(timeout))
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            return first
        }
        guard let collected else { throw APIError.timeout(seconds: timeout) }
        return Data(buffer: collected)
    }
}

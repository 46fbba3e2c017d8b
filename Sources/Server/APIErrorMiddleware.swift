import Hummingbird

/// Turns every error a handler throws into OpenAI's error shape: `APIError`s as they are, Hummingbird's own
/// (404 for an unknown path, 405, 413) with their status, anything else as a 500 naming it.
struct APIErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            metrics.failedRequests.increment()
            return error.response
        } catch let error as HTTPError {
            metrics.failedRequests.increment()
            let message = error.body ?? (error.status == .notFound
                ? "no endpoint \(request.method) \(request.uri.path)" : error.status.reasonPhrase)
            let type = error.status.code >= 500 ? "server_error" : "invalid_request_error"
            return APIError(status: error.status, message: message, type: type, param: nil, code: nil).response
        } catch {
            metrics.failedRequests.increment()
            return APIError.server("\(error)").response
        }
    }
}

/// Requires `Authorization: Bearer <key>` on every path but the open ones (401 otherwise).
struct BearerAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let key: String
    static var openPaths: Set<String> { ["/", "/health", "/v1/models", "/models"] }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response {
        if Self.openPaths.contains(request.uri.path) { return try await next(request, context) }
        guard let header = request.headers[.authorization], Self.equal(header, "Bearer " + key) else {
            throw APIError.unauthorized
        }
        return try await next(request, context)
    }

    /// Compares in time that does not depend on where the strings first differ.
    static func equal(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        var difference = x.count ^ y.count
        for index in 0 ..< max(x.count, y.count) {
            difference |= Int((index < x.count ? x[index] : 0) ^ (index < y.count ? y[index] : 0))
        }
        return difference == 0
    }
}

import Foundation
import Hummingbird

/// An error as OpenAI's API returns it: `{"error": {"message", "type", "param", "code"}}` with an HTTP status.
/// Every failure of a request becomes one of these; the server itself goes on.
struct APIError: Error, Sendable, CustomStringConvertible {
    let status: HTTPResponse.Status
    let message: String
    let type: String
    let param: String?
    let code: String?

    var description: String { message }

    init(status: HTTPResponse.Status, message: String, type: String, param: String?, code: String?) {
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
    }

    static func invalid(_ message: String, param: String? = nil) -> APIError {
        APIError(status: .badRequest, message: message, type: "invalid_request_error", param: param, code: nil)
    }

    static func notFound(_ message: String) -> APIError {
        APIError(status: .notFound, message: message, type: "invalid_request_error", param: nil, code: "not_found")
    }

    static let unauthorized = APIError(status: .unauthorized,
                                       message: "a valid API key is required (Authorization: Bearer …)",
                                       type: "authentication_error", param: nil, code: "invalid_api_key")

    static func tooLarge(limit: Int) -> APIError {
        APIError(status: .contentTooLarge, message: "the request body is larger than \(limit) bytes",
                 type: "invalid_request_error", param: nil, code: "body_too_large")
    }

    static func timeout(seconds: Int) -> APIError {
        APIError(status: .requestTimeout, message: "the request body did not arrive within \(seconds) s",
                 type: "invalid_request_error", param: nil, code: "timeout")
    }

    static func unavailable(_ message: String) -> APIError {
        APIError(status: .serviceUnavailable, message: message, type: "server_error", param: nil, code: "unavailable")
    }

    static func server(_ message: String) -> APIError {
        APIError(status: .internalServerError, message: message, type: "server_error", param: nil, code: nil)
    }

    /// A decoding failure named by the field it concerns, in one line.
    init(decoding error: DecodingError) {
        func path(_ context: DecodingError.Context, _ key: CodingKey? = nil) -> String {
            let keys = context.codingPath + (key.map { [$0] } ?? [])
            return keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().trimmingPrefix(".")
                .description
        }
        switch error {
        case .typeMismatch(let type, let context):
            let name = path(context)
            self = .invalid("'\(name)' must be \(Self.describe(type))", param: name)
        case .valueNotFound(let type, let context):
            let name = path(context)
            self = .invalid("'\(name)' must be \(Self.describe(type)), not null", param: name)
        case .keyNotFound(let key, let context):
            let name = path(context, key)
            self = .invalid("'\(name)' is required", param: name)
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty {
                self = .invalid("the body is not valid JSON (UTF-8): \(Self.reason(context))")
            } else {
                let name = path(context)
                self = .invalid("'\(name)' is malformed: \(Self.reason(context))", param: name)
            }
        @unknown default:
            self = .invalid("the body could not be read: \(error)")
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type: "an integer"
        case is Double.Type: "a number"
        case is Bool.Type: "true or false"
        case is [Any].Type: "an array"
        default: "of type \(type)"
        }
    }

    private static func reason(_ context: DecodingError.Context) -> String {
        let underlying = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
        return (underlying ?? context.debugDescription).replacingOccurrences(of: "\n", with: " ")
    }

    /// The response: the error object as JSON.
    var response: Response {
        var error: [String: Any] = ["message": message, "type": type]
        error["param"] = param ?? NSNull()
        error["code"] = code ?? NSNull()
        let data = (try? JSONSerialization.data(withJSONObject: ["error": error], options: [.sortedKeys])) ?? Data()
        return Response(status: status, headers: [.contentType: "application/json"],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// The error as one SSE event, for a stream whose headers are already sent.
    var streamEvent: String {
        let code: Any = code ?? NSNull()
        let object: [String: Any] = ["error": ["message": message, "type": type, "code": code]]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return "data: " + String(decoding: data, as: UTF8.self) + "\n\n"
    }
}

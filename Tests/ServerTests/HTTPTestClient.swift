import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A plain HTTP/1.1 client over a socket, so tests can send what no well-behaved client library would: bodies that
/// are not JSON or not UTF-8, lies in Content-Length, bodies that trickle in, connections dropped mid-stream.
struct HTTPTestClient {
    let port: Int

    struct Reply {
        let status: Int
        let headers: [String: String]
        let body: Data
        var text: String { String(decoding: body, as: UTF8.self) }
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
        /// The `error` object of an OpenAI-shaped error.
        var error: [String: Any]? { json["error"] as? [String: Any] }
    }

    /// An open connection.
    final class Connection: @unchecked Sendable {
        let socket: Int32

        init(port: Int, timeout: Double = 120) throws {
            #if canImport(Glibc)
            socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            #else
            socket = Darwin.socket(AF_INET, SOCK_STREAM, 0)
            #endif
            guard socket >= 0 else { throw ClientError("socket() failed") }
            var seconds = timeval(tv_sec: Int(timeout), tv_usec: 0)
            setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &seconds, socklen_t(MemoryLayout<timeval>.size))
            #if canImport(Darwin)
            var one: Int32 = 1
            setsockopt(socket, SOL_SOCKET, SO_NOSIGPIPE, &one, socklen_t(MemoryLayout<Int32>.size))
            #endif
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard connected == 0 else {
                close(socket)
                throw ClientError("cannot connect to port \(port)")
            }
        }

        deinit { close(socket) }

        /// Writes `data`; a connection the server has closed is an error, not a SIGPIPE.
        func send(_ data: Data) throws {
            #if canImport(Glibc)
            let sent = data.withUnsafeBytes { Glibc.send(socket, $0.baseAddress, data.count, Int32(MSG_NOSIGNAL)) }
            #else
            let sent = data.withUnsafeBytes { Darwin.send(socket, $0.baseAddress, data.count, 0) }
            #endif
            guard sent == data.count else { throw ClientError("write failed") }
        }

        func send(_ text: String) throws { try send(Data(text.utf8)) }

        /// Everything until the server closes the connection (or the timeout).
        func readAll() -> Data {
            var data = Data()
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = readSocket(socket, &buffer, buffer.count)
                if count <= 0 { break }
                data.append(contentsOf: buffer[0 ..< count])
            }
            return data
        }

        /// Reads until `marker` has arrived (or the connection ends).
        func read(until marker: String) -> Data {
            var data = Data()
            var buffer = [UInt8](repeating: 0, count: 4096)
            while data.range(of: Data(marker.utf8)) == nil {
                let count = readSocket(socket, &buffer, buffer.count)
                if count <= 0 { break }
                data.append(contentsOf: buffer[0 ..< count])
            }
            return data
        }
    }

    struct ClientError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// Sends one request (with `Connection: close`) and reads the whole reply.
    func request(_ method: String, _ path: String, body: Data? = nil, headers: [String: String] = [:]) throws -> Reply {
        let connection = try Connection(port: port)
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if let body, headers["Content-Length"] == nil { head += "Content-Length: \(body.count)\r\n" }
        if body != nil, headers["Content-Type"] == nil { head += "Content-Type: application/json\r\n" }
        try connection.send(head + "\r\n")
        if let body { try connection.send(body) }
        return try Self.parse(connection.readAll())
    }

    func post(_ path: String, json: String, headers: [String: String] = [:]) throws -> Reply {
        try request("POST", path, body: Data(json.utf8), headers: headers)
    }

    func post(_ path: String, object: [String: Any], headers: [String: String] = [:]) throws -> Reply {
        try request("POST", path, body: try JSONSerialization.data(withJSONObject: object), headers: headers)
    }

    func post(_ path: String, data: Data) throws -> Reply {
        try request("POST", path, body: data)
    }

    func get(_ path: String, headers: [String: String] = [:]) throws -> Reply {
        try request("GET", path, headers: headers)
    }

    /// Splits a raw reply into status, headers and body (undoing chunked transfer encoding).
    static func parse(_ data: Data) throws -> Reply {
        guard let split = data.range(of: Data("\r\n\r\n".utf8)) else {
            throw ClientError("no complete reply (\(data.count) bytes)")
        }
        let head = String(decoding: data[..<split.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = head[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw ClientError("bad status line") }
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            headers[name] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body = Data(data[split.upperBound...])
        if headers["transfer-encoding"] == "chunked" { body = dechunk(body) }
        return Reply(status: status, headers: headers, body: body)
    }

    private static func dechunk(_ data: Data) -> Data {
        var output = Data()
        var rest = data[...]
        while let lineEnd = rest.range(of: Data("\r\n".utf8)) {
            let sizeText = String(decoding: rest[..<lineEnd.lowerBound], as: UTF8.self)
            guard let size = Int(sizeText.split(separator: ";")[0], radix: 16), size > 0 else { break }
            let start = lineEnd.upperBound
            let end = rest.index(start, offsetBy: size, limitedBy: rest.endIndex) ?? rest.endIndex
            output.append(rest[start ..< end])
            rest = rest[min(rest.endIndex, end + 2)...]
        }
        return output
    }
}

/// The server-sent events of a streamed reply: the JSON objects of its `data:` lines, and whether `[DONE]` ended it.
struct ServerSentEvents {
    let objects: [[String: Any]]
    let done: Bool

    init(_ body: String) {
        let lines = body.components(separatedBy: "\n").filter { $0.hasPrefix("data: ") }.map { String($0.dropFirst(6)) }
        done = lines.last == "[DONE]"
        objects = lines.compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
    }
}

/// The C library's read(2), which `Connection`'s own methods would otherwise shadow.
private func readSocket(_ socket: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
    read(socket, buffer, count)
}

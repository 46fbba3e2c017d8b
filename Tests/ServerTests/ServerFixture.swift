import Engine
import Foundation
import Server
import TestSupport

/// A server on a free port in this process, over a model file; stopped by `stop()`.
final class ServerFixture: @unchecked Sendable {
    let engine: InferenceEngine
    let client: HTTPTestClient
    private let task: Task<Void, any Error>
    private let server: TokenPressServer

    /// Starts a server and waits until it listens.
    init(modelPath: String, configure: (inout ServerConfiguration) -> Void = { _ in }) throws {
        engine = try InferenceEngine(modelPath: modelPath)
        var configuration = ServerConfiguration()
        configuration.port = 0
        configure(&configuration)
        let server = try TokenPressServer(engine: try InferenceEngine(modelPath: modelPath), modelPath: modelPath,
                                          configuration: configuration)
        self.server = server
        let listening = DispatchSemaphore(value: 0)
        let port = PortBox()
        task = Task {
            try await server.run(handleSignals: false) { _, bound in
                port.value = bound
                listening.signal()
            }
        }
        guard listening.wait(timeout: .now() + 60) == .success else { throw HTTPTestClient.ClientError("no listen") }
        client = HTTPTestClient(port: port.value)
    }

    /// Shuts the server down gracefully and waits until it has.
    func stop() {
        let server = server
        let task = task
        let stopped = DispatchSemaphore(value: 0)
        Task {
            await server.shutdown()
            _ = await task.result
            stopped.signal()
        }
        _ = stopped.wait(timeout: .now() + 30)
    }

    /// A tiny random model with a chat template (ChatML), written to a temporary file.
    static func tinyModel(context: Int = 512, width: Int = 64, layers: Int = 2) throws -> String {
        var model = TinyModel()
        model.context = context
        model.width = width
        model.layers = layers
        return try model.write()
    }
}

private final class PortBox: @unchecked Sendable {
    private let lock = NSLock()
    private var stored = 0
    var value: Int {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}

/// Runs `count` blocking calls at once on their own threads and returns their results in order.
func concurrently<T>(_ count: Int, _ body: @escaping @Sendable (Int) throws -> T) -> [Result<T, any Error>] {
    // Threads of their own: a dispatch queue would run only as many at once as there are cores.
    let results = ResultsBox<T>(count: count)
    let group = DispatchGroup()
    for index in 0 ..< count {
        group.enter()
        Thread {
            results.set(index, Result { try body(index) })
            group.leave()
        }.start()
    }
    group.wait()
    return results.values
}

private final class ResultsBox<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [Result<T, any Error>?]
    init(count: Int) { stored = Array(repeating: nil, count: count) }
    func set(_ index: Int, _ value: Result<T, any Error>) { lock.withLock { stored[index] = value } }
    var values: [Result<T, any Error>] { lock.withLock { stored.map { $0! } } }
}

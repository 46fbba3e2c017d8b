import Hummingbird
import NIOCore

/// Hummingbird's request context plus the connection, so a generation can stop when its client goes away even when
/// nothing is being written to it (a whole answer is written only at the end).
public struct ServerRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// The channel the request came on (to watch for its client going away).
    public var connection: any Channel { channel }
}

import Foundation
import NIOCore

/// Tells the handlers of a connection when its client has gone: the server allows half-closed connections, so a
/// client's end of stream arrives as an `inputClosed` event rather than closing the channel. One watcher sits in every
/// connection's pipeline; handlers register with the shared `ClientCloseRegistry`.
final class ClientCloseWatcher: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = NIOAny

    let registry: ClientCloseRegistry

    init(registry: ClientCloseRegistry) {
        self.registry = registry
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event { registry.closed(context.channel) }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        registry.closed(context.channel)
        context.fireChannelInactive()
    }
}

/// What to do when each connection's client goes away.
final class ClientCloseRegistry: @unchecked Sendable {
    private let lock = NSLock()
    private var actions: [ObjectIdentifier: [@Sendable () -> Void]] = [:]
    private var polls: [ObjectIdentifier: RepeatedTask] = [:]
    private var gone: Set<ObjectIdentifier> = []

    /// Runs `action` when `channel`'s client goes away (at once if it has); the channel is asked to read every half
    /// second meanwhile, since nothing else reads it while a whole answer is generated.
    func watch(_ channel: any Channel, _ action: @escaping @Sendable () -> Void) {
        let key = ObjectIdentifier(channel)
        let already = lock.withLock { () -> Bool in
            if gone.contains(key) { return true }
            actions[key, default: []].append(action)
            return false
        }
        if already {
            action()
            return
        }
        let registry = self
        let poll = channel.eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(500), delay: .milliseconds(500)) {
            task in
            guard channel.isActive, !registry.isGone(key) else {
                task.cancel()
                return
            }
            channel.read()
        }
        let replaced = lock.withLock { () -> RepeatedTask? in
            defer { polls[key] = poll }
            return polls[key]
        }
        replaced?.cancel()
        channel.closeFuture.whenComplete { _ in registry.closed(channel) }
    }

    /// Forgets the actions of a connection whose request has been answered, and stops asking it to read.
    func done(_ channel: any Channel) {
        let key = ObjectIdentifier(channel)
        let poll = lock.withLock { () -> RepeatedTask? in
            actions[key] = nil
            return polls.removeValue(forKey: key)
        }
        poll?.cancel()
    }

    func closed(_ channel: any Channel) {
        let key = ObjectIdentifier(channel)
        let (pending, poll, first) = lock.withLock { () -> ([@Sendable () -> Void], RepeatedTask?, Bool) in
            let first = gone.insert(key).inserted
            return (actions.removeValue(forKey: key) ?? [], polls.removeValue(forKey: key), first)
        }
        // Identifiers are addresses: a later connection may get this one once the channel is gone.
        if first { channel.closeFuture.whenComplete { [self] _ in forget(key) } }
        poll?.cancel()
        for action in pending { action() }
    }

    private func isGone(_ key: ObjectIdentifier) -> Bool { lock.withLock { gone.contains(key) } }

    private func forget(_ key: ObjectIdentifier) {
        let poll = lock.withLock { () -> RepeatedTask? in
            gone.remove(key)
            actions[key] = nil
            return polls.removeValue(forKey: key)
        }
        poll?.cancel()
    }
}

/// One request's view of its connection: what to do if the client goes away, and when the answer is complete
/// (after the last byte of a stream, not when the handler returns).
struct ConnectionWatch: Sendable {
    let registry: ClientCloseRegistry
    let channel: any Channel

    func onClose(_ action: @escaping @Sendable () -> Void) {
        registry.watch(channel, action)
    }

    func done() {
        registry.done(channel)
    }
}

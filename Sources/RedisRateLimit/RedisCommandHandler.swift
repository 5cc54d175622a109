import NIOCore

/// A command on its way to Redis with the promise its reply completes.
struct RedisRequest: Sendable {
    var command: RESPCommand
    var promise: EventLoopPromise<RESPValue>
}

/// Pipelining: commands are written as they come, their promises queued; Redis answers in order, so each reply
/// completes the oldest queued promise. When the connection ends, every promise still queued fails.
///
/// A promise may already have been failed by the caller's timeout when its reply arrives: NIO ignores a second
/// completion, and the reply still dequeues it, so the order is never lost.
///
/// A timed-out caller sends a ``StallCheck``: if replies are owed and nothing has been read for a whole timeout
/// since the oldest of them was written, the connection is stalled (a partition, a hung server) and is closed,
/// so that it is replaced instead of holding every later command. A connection that is merely slow keeps reading
/// and is kept.
final class RedisCommandHandler: ChannelDuplexHandler {
    typealias InboundIn = RESPValue
    typealias OutboundIn = RedisRequest
    typealias OutboundOut = ByteBuffer

    /// Asks the handler to close the connection if it has been silent for `silence` while replies are owed.
    struct StallCheck: Sendable {
        var silence: TimeAmount
    }

    private var pending = CircularBuffer<(promise: EventLoopPromise<RESPValue>, written: NIODeadline)>(
        initialCapacity: 16
    )
    private var lastRead = NIODeadline.uptimeNanoseconds(0)

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = Self.unwrapOutboundIn(data)
        self.pending.append((request.promise, context.eventLoop.now))
        var buffer = context.channel.allocator.buffer(capacity: 64)
        request.command.encode(into: &buffer)
        context.write(Self.wrapOutboundOut(buffer), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let value = Self.unwrapInboundIn(data)
        self.lastRead = context.eventLoop.now
        guard let (promise, _) = self.pending.popFirst() else {
            // A reply nobody asked for: the stream is out of step, and nothing on it can be trusted.
            context.close(promise: nil)
            return
        }
        promise.succeed(value)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.failAll(RedisClientError(.connectionFailed, "connection closed"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.failAll(error as? RedisClientError ?? RedisClientError(.connectionFailed, "\(type(of: error))"))
        context.close(promise: nil)
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard let check = event as? StallCheck else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        promise?.succeed()
        let now = context.eventLoop.now
        if let oldest = self.pending.first, now - max(oldest.written, self.lastRead) >= check.silence {
            context.close(promise: nil)
        }
    }

    private func failAll(_ error: RedisClientError) {
        while let (promise, _) = self.pending.popFirst() {
            promise.fail(error)
        }
    }
}

import NIOConcurrencyHelpers
public import NIOCore
import NIOPosix

/// A TCP proxy for tests that injects faults between the gateway and an upstream: latency, a bandwidth limit,
/// resets after a number of bytes, black holes. Each accepted connection gets the fault `plan(index)` chooses.
public final class FaultProxy: Sendable {
    /// What happens on one proxied connection.
    public enum Fault: Sendable, Equatable {
        /// Bytes pass untouched.
        case none
        /// Every read is delivered this much later, both ways.
        case latency(TimeAmount)
        /// Upstream-to-client bytes are delivered at this many bytes per second.
        case bandwidth(bytesPerSecond: Int)
        /// After this many upstream-to-client bytes, both sides are reset (RST).
        case resetAfter(bytes: Int)
        /// The connection is accepted, reads are discarded, nothing is ever sent or closed.
        case blackHole
    }

    private let channel: any Channel
    private let accepted: NIOLockedValueBox<Int>
    public let port: Int

    private init(channel: any Channel, accepted: NIOLockedValueBox<Int>) {
        self.channel = channel
        self.accepted = accepted
        self.port = channel.localAddress?.port ?? 0
    }

    /// Connections accepted so far.
    public var connectionCount: Int { self.accepted.withLockedValue { $0 } }

    /// Listens on 127.0.0.1:0 and relays to `127.0.0.1:upstreamPort`.
    public static func start(upstreamPort: Int, plan: @escaping @Sendable (Int) -> Fault) async throws -> FaultProxy {
        let accepted = NIOLockedValueBox(0)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.autoRead, value: false)
            .childChannelInitializer { inbound in
                let index = accepted.withLockedValue { value -> Int in
                    defer { value += 1 }
                    return value
                }
                let fault = plan(index)
                if fault == .blackHole {
                    return inbound.eventLoop.makeCompletedFuture {
                        try inbound.pipeline.syncOperations.addHandler(Discard())
                        inbound.read()
                    }
                }
                let toClient = Relay(fault: fault, direction: .toClient)
                let toUpstream = Relay(fault: fault, direction: .toUpstream)
                return ClientBootstrap(group: inbound.eventLoop)
                    .channelInitializer { outbound in
                        outbound.eventLoop.makeCompletedFuture {
                            try outbound.pipeline.syncOperations.addHandler(toClient)
                        }
                    }
                    .connect(host: "127.0.0.1", port: upstreamPort)
                    .flatMapThrowing { outbound in
                        toClient.peer = inbound
                        toUpstream.peer = outbound
                        try inbound.pipeline.syncOperations.addHandler(toUpstream)
                        inbound.setOption(.autoRead, value: true).whenComplete { _ in }
                    }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return FaultProxy(channel: channel, accepted: accepted)
    }

    public func shutdown() async {
        try? await self.channel.close()
    }
}

private final class Discard: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}

/// Forwards what one side reads to the other, applying the fault. Both channels share one event loop.
private final class Relay: ChannelInboundHandler, @unchecked Sendable {
    // @unchecked: both channels of a pair live on the same event loop; the relay is only used there.
    typealias InboundIn = ByteBuffer
    enum Direction { case toClient, toUpstream }

    let fault: FaultProxy.Fault
    let direction: Direction
    var peer: (any Channel)?
    private var forwarded = 0
    /// When the bandwidth-limited direction may send its next byte.
    private var nextSend = NIODeadline.now()

    init(fault: FaultProxy.Fault, direction: Direction) {
        self.fault = fault
        self.direction = direction
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let peer = self.peer else { return }
        var buffer = self.unwrapInboundIn(data)
        switch (self.fault, self.direction) {
        case (.latency(let delay), _):
            let delayed = buffer
            context.eventLoop.scheduleTask(in: delay) { peer.writeAndFlush(delayed, promise: nil) }
        case (.bandwidth(let rate), .toClient):
            let piece = max(1, rate / 100)  // 10 ms worth per write
            while buffer.readableBytes > 0 {
                let slice = buffer.readSlice(length: min(piece, buffer.readableBytes))!
                let now = NIODeadline.now()
                if self.nextSend < now { self.nextSend = now }
                self.nextSend = self.nextSend + .nanoseconds(Int64(slice.readableBytes) * 1_000_000_000 / Int64(rate))
                context.eventLoop.scheduleTask(deadline: self.nextSend) { peer.writeAndFlush(slice, promise: nil) }
            }
        case (.resetAfter(let limit), .toClient):
            let allowed = max(0, min(buffer.readableBytes, limit - self.forwarded))
            if allowed > 0 {
                peer.writeAndFlush(buffer.readSlice(length: allowed)!, promise: nil)
                self.forwarded += allowed
            }
            if self.forwarded >= limit {
                Self.reset(peer)
                Self.reset(context.channel)
            }
        default:
            peer.writeAndFlush(buffer, promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        guard let peer = self.peer else { return }
        if case .latency(let delay) = self.fault {
            // Close after the delayed bytes went out.
            context.eventLoop.scheduleTask(in: delay + .milliseconds(1)) { peer.close(promise: nil) }
        } else if case .bandwidth = self.fault, self.direction == .toClient {
            let wait = self.nextSend - NIODeadline.now()
            context.eventLoop.scheduleTask(in: max(wait, .zero) + .milliseconds(1)) { peer.close(promise: nil) }
        } else {
            peer.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// Closes with RST (SO_LINGER 0) instead of FIN.
    private static func reset(_ channel: any Channel) {
        guard let provider = channel as? any SocketOptionProvider else {
            channel.close(promise: nil)
            return
        }
        provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
    }
}

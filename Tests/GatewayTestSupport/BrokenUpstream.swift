import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// An upstream that answers with raw bytes chosen by the test, so it can break HTTP in every way a real server
/// might (two `Content-Length`s, status 999, a head that never ends, a body shorter than announced…).
///
/// It reads a request head (and a `Content-Length` body), counts it, asks `reply` what to send for its target,
/// sends those bytes, then closes, keeps the connection for the next request, or hangs.
public final class BrokenUpstream: Sendable {
    /// What the upstream does with one request.
    public struct Reply: Sendable {
        public enum After: Sendable {
            /// Close the connection once the bytes are written.
            case close
            /// Wait for another request on the connection.
            case keepAlive
            /// Never send anything more, never close.
            case hang
        }

        public var bytes: [UInt8]
        public var after: After

        public init(_ bytes: [UInt8], after: After = .close) {
            self.bytes = bytes
            self.after = after
        }

        public init(_ text: String, after: After = .close) {
            self.init(Array(text.utf8), after: after)
        }
    }

    /// A request as the upstream read it.
    public struct Received: Sendable {
        public var head: String
        public var body: [UInt8]

        /// The request target of the request line.
        public var target: String {
            let line = self.head.split(separator: "\r\n", maxSplits: 1).first ?? ""
            let parts = line.split(separator: " ")
            return parts.count > 1 ? String(parts[1]) : ""
        }
    }

    private let channel: any Channel
    private let received: NIOLockedValueBox<[Received]>
    /// The bound port.
    public let port: Int

    private init(channel: any Channel, received: NIOLockedValueBox<[Received]>) {
        self.channel = channel
        self.received = received
        self.port = channel.localAddress?.port ?? 0
    }

    /// Binds 127.0.0.1:0 and serves until ``shutdown()``.
    public static func start(reply: @escaping @Sendable (Received) -> Reply) async throws -> BrokenUpstream {
        let received = NIOLockedValueBox<[Received]>([])
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        RawReplyHandler(reply: reply, received: received))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return BrokenUpstream(channel: channel, received: received)
    }

    /// Requests read so far.
    public var requests: [Received] { self.received.withLockedValue { $0 } }

    /// How many requests were read so far.
    public var requestCount: Int { self.received.withLockedValue { $0.count } }

    public func shutdown() async {
        try? await self.channel.close()
    }
}

/// Reads requests framed by `Content-Length` (or none) and writes the test's raw reply to each.
private final class RawReplyHandler: ChannelInboundHandler, @unchecked Sendable {
    // @unchecked: used on its channel's event loop only.
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let reply: @Sendable (BrokenUpstream.Received) -> BrokenUpstream.Reply
    private let received: NIOLockedValueBox<[BrokenUpstream.Received]>
    private var buffer: [UInt8] = []
    private var hanging = false

    init(
        reply: @escaping @Sendable (BrokenUpstream.Received) -> BrokenUpstream.Reply,
        received: NIOLockedValueBox<[BrokenUpstream.Received]>
    ) {
        self.reply = reply
        self.received = received
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = self.unwrapInboundIn(data)
        self.buffer += bytes.readBytes(length: bytes.readableBytes) ?? []
        while !self.hanging, let request = self.takeRequest() {
            self.received.withLockedValue { $0.append(request) }
            let answer = self.reply(request)
            let write = context.writeAndFlush(self.wrapOutboundOut(ByteBuffer(bytes: answer.bytes)))
            switch answer.after {
            case .close:
                let channel = context.channel
                write.whenComplete { _ in channel.close(promise: nil) }
                return
            case .keepAlive:
                continue
            case .hang:
                self.hanging = true
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func takeRequest() -> BrokenUpstream.Received? {
        guard let end = Self.find([13, 10, 13, 10], in: self.buffer) else { return nil }
        let head = String(decoding: self.buffer[0..<end], as: UTF8.self)
        var length = 0
        for line in head.split(separator: "\r\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "content-length" {
                length = Int(parts[1].trimmingCharacters(in: " ")) ?? 0
            }
        }
        guard self.buffer.count >= end + 4 + length else { return nil }
        let body = Array(self.buffer[(end + 4)..<(end + 4 + length)])
        self.buffer.removeFirst(end + 4 + length)
        return BrokenUpstream.Received(head: head, body: body)
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for index in 0...(haystack.count - needle.count) where haystack[index] == needle[0] {
            if Array(haystack[index..<(index + needle.count)]) == needle { return index }
        }
        return nil
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: Character) -> Substring {
        var result = self
        while result.first == set { result.removeFirst() }
        while result.last == set { result.removeLast() }
        return result
    }
}

public import NIOCore
import NIOHTTP1
public import NIOPosix

/// The least a SwiftNIO HTTP/1.1 server can do per request: the codec the gateway's listener uses
/// (`configureHTTPServerPipeline`, outbound header validation on) and one handler that answers every request with
/// the same `200` and a fixed JSON body of a chosen size, head, body and end in one flush.
///
/// It is the listener's floor in `bench/floors.sh` (`vendor-sim --fixed-body-bytes N`): what NIO's HTTP/1 pipeline
/// costs per request on this machine with no gateway code at all, to set beside libcurl's floor and nginx.
public struct FixedResponseServer: Sendable {
    /// The bound port.
    public let port: Int
    private let channel: any Channel

    /// Binds `host:port` (0 picks a free port) and answers every request with a `bodyBytes`-byte JSON body.
    public static func start(
        host: String = "127.0.0.1", port: Int = 0, bodyBytes: Int,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> FixedResponseServer {
        let response = FixedResponse(bodyBytes: bodyBytes)
        let channel = try await ServerBootstrap(group: eventLoopGroup)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 256)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.configureHTTPServerPipeline(
                        withPipeliningAssistance: false, withErrorHandling: true, withOutboundHeaderValidation: true)
                    try child.pipeline.syncOperations.addHandler(FixedResponseHandler(response: response))
                }
            }
            .bind(host: host, port: port)
            .get()
        return FixedResponseServer(port: channel.localAddress?.port ?? port, channel: channel)
    }

    /// Stops listening (open connections end with their clients).
    public func shutdown() async throws {
        try await self.channel.close()
    }
}

/// The one response: a head with its length and a body shared by every connection (slicing it allocates nothing).
struct FixedResponse: Sendable {
    let head: HTTPResponseHead
    let body: ByteBuffer

    /// `{"data":"xxx…"}`, exactly `bodyBytes` long when that is at least 11 bytes (the JSON around the string).
    init(bodyBytes: Int) {
        let filler = max(0, bodyBytes - 11)
        var body = ByteBufferAllocator().buffer(capacity: filler + 11)
        body.writeString(#"{"data":""#)
        body.writeRepeatingByte(UInt8(ascii: "x"), count: filler)
        body.writeString(#""}"#)
        self.body = body
        self.head = HTTPResponseHead(
            version: .http1_1, status: .ok,
            headers: ["content-type": "application/json", "content-length": String(body.readableBytes)])
    }
}

/// Answers each request once its end has arrived; keeps the connection unless the client asked to close it.
final class FixedResponseHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let response: FixedResponse
    private var keepAlive = true

    init(response: FixedResponse) {
        self.response = response
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            self.keepAlive = head.isKeepAlive
        case .body:
            break
        case .end:
            var head = self.response.head
            if !self.keepAlive { head.headers.add(name: "connection", value: "close") }
            context.write(self.wrapOutboundOut(.head(head)), promise: nil)
            context.write(self.wrapOutboundOut(.body(.byteBuffer(self.response.body))), promise: nil)
            if self.keepAlive {
                context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
            } else {
                let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
                context.writeAndFlush(self.wrapOutboundOut(.end(nil))).whenComplete { _ in
                    loopBound.value.close(promise: nil)
                }
            }
        }
    }
}

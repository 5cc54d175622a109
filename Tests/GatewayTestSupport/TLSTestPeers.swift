import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
public import NIOSSL

/// A TLS client for tests: one `GET` over a fresh connection, trusting only the given CA.
public enum TLSTestClient {
    public struct Result: Sendable {
        /// Everything the server sent, as text.
        public var response: String
        /// The certificate the server presented.
        public var peerCertificate: NIOSSLCertificate?
    }

    public static func get(port: Int, caFile: String, path: String) async throws -> Result {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = .file(caFile)
        let context = try NIOSSLContext(configuration: configuration)
        let collector = TextCollector()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = try NIOSSLClientHandler(context: context, serverHostname: "localhost")
                    try channel.pipeline.syncOperations.addHandler(handler)
                    try channel.pipeline.syncOperations.addHandler(collector)
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        try await channel.writeAndFlush(
            ByteBuffer(string: "GET \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"))
        try await channel.closeFuture.get()
        return Result(response: collector.text, peerCertificate: collector.peerCertificate)
    }
}

/// Collects what a TLS client receives and the server's certificate.
private final class TextCollector: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    private let state = NIOLockedValueBox<(String, NIOSSLCertificate?)>(("", nil))

    var text: String { self.state.withLockedValue { $0.0 } }
    var peerCertificate: NIOSSLCertificate? { self.state.withLockedValue { $0.1 } }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Application data arrives only after the handshake: the peer's certificate is known by now.
        if self.peerCertificate == nil {
            context.channel.nioSSL_peerCertificate().whenSuccess { peer in
                self.state.withLockedValue { $0.1 = peer }
            }
        }
        let buffer = self.unwrapInboundIn(data)
        self.state.withLockedValue { $0.0 += String(buffer: buffer) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// An HTTPS upstream for tests: answers every request `200` with body `tls-ok`, optionally only to clients that
/// present a certificate signed by the test CA (and then records that they did).
public final class TLSUpstream: Sendable {
    private let channel: any Channel
    private let served: NIOLockedValueBox<Int>
    public let port: Int

    private init(channel: any Channel, served: NIOLockedValueBox<Int>) {
        self.channel = channel
        self.served = served
        self.port = channel.localAddress?.port ?? 0
    }

    /// Requests answered (only after a successful handshake, with a client certificate when one is required).
    public var answered: Int { self.served.withLockedValue { $0 } }

    public static func start(
        certificate: String, key: String, clientCA: String? = nil
    ) async throws -> TLSUpstream {
        let chain = try NIOSSLCertificate.fromPEMFile(certificate).map { NIOSSLCertificateSource.certificate($0) }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain, privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem)))
        if let clientCA {
            configuration.certificateVerification = .noHostnameVerification
            configuration.trustRoots = .file(clientCA)
        }
        let context = try NIOSSLContext(configuration: configuration)
        let counter = NIOLockedValueBox(0)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(NIOSSLServerHandler(context: context))
                    try sync.configureHTTPServerPipeline()
                    try sync.addHandler(OKResponder(counter: counter))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return TLSUpstream(channel: channel, served: counter)
    }

    public func shutdown() async {
        try? await self.channel.close()
    }
}

private final class OKResponder: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    private let counter: NIOLockedValueBox<Int>

    init(counter: NIOLockedValueBox<Int>) {
        self.counter = counter
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .end = self.unwrapInboundIn(data) else { return }
        self.counter.withLockedValue { $0 += 1 }
        let head = HTTPResponseHead(version: .http1_1, status: .ok, headers: ["content-length": "6"])
        context.write(self.wrapOutboundOut(.head(head)), promise: nil)
        context.write(self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "tls-ok")))), promise: nil)
        context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

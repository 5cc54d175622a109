public import Logging
import NIOConcurrencyHelpers
public import NIOCore
import NIOHTTP1
public import NIOPosix
import NIOSSL
public import ServiceLifecycle

/// The HTTP/1.1 listener: binds, accepts, enforces the limits of ``HTTPServerConfiguration``, and hands each
/// complete request to an ``HTTPResponder``. A `Service`: graceful shutdown stops accepting, closes idle
/// connections and lets requests in progress finish.
public final class HTTPServer: Service, Sendable {
    private let configuration: HTTPServerConfiguration
    private let responder: any HTTPResponder
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    private let registry = ConnectionRegistry()
    private let bound: EventLoopPromise<SocketAddress>
    private let serverChannel = NIOLockedValueBox<(any Channel)?>(nil)

    public init(
        configuration: HTTPServerConfiguration,
        responder: any HTTPResponder,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger
    ) {
        self.configuration = configuration
        self.responder = responder
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
        self.bound = eventLoopGroup.any().makePromise(of: SocketAddress.self)
    }

    deinit {
        // Nobody may wait on a promise forever.
        self.bound.fail(CancellationError())
    }

    /// The address the listener is bound to, once it is; throws if binding failed.
    public func localAddress() async throws -> SocketAddress {
        try await self.bound.futureResult.get()
    }

    /// Open client connections.
    public var connectionCount: Int { self.registry.count }

    /// Stops accepting and drains connections, as on graceful shutdown.
    public func beginDraining() {
        self.serverChannel.withLockedValue { $0 }?.close(promise: nil)
        self.registry.drainAll()
    }

    /// Closes every remaining connection (the drain deadline passed).
    public func closeAllConnections() {
        self.registry.closeAll()
    }

    public func run() async throws {
        let configuration = self.configuration
        let decoderLimits = {
            // A backstop: the exact limits are checked by `ConnectionGuardHandler` while the head arrives and by
            // `RequestHeadValidator` on the whole head, which can tell a long request target (414) from long fields
            // (431). llhttp counts the target against its field limits, so its own limit must be looser.
            var limits = NIOHTTPDecoderLimitConfiguration()
            limits.maxHeaderFieldSize = configuration.maxHeaderBytes * 2
            limits.maxHeaderListSize = configuration.maxHeaderBytes * 2
            limits.maxHeaderFieldCount = configuration.maxHeaderCount
            return limits
        }()
        let registry = self.registry
        let responder = self.responder
        let logger = self.logger
        let channel: any Channel
        do {
            channel = try await ServerBootstrap(group: self.eventLoopGroup)
                .serverChannelOption(.backlog, value: 1024)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
                .childChannelOption(.socketOption(.so_reuseaddr), value: 1)
                // Bounded per-connection buffers: reads of at most 64 KiB, a few per wake-up, so one fast client
                // cannot monopolise a loop, and writes that stop (backpressure) past 64 KiB queued.
                .childChannelOption(.maxMessagesPerRead, value: 4)
                .childChannelOption(
                    .recvAllocator,
                    value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 2048, maximum: 64 * 1024)
                )
                .childChannelOption(.writeBufferWaterMark, value: .init(low: 32 * 1024, high: 64 * 1024))
                .childChannelInitializer { child in
                    child.eventLoop.makeCompletedFuture {
                        let sync = child.pipeline.syncOperations
                        if let tls = configuration.tls {
                            try sync.addHandler(NIOSSLServerHandler(context: tls.current))
                            try sync.addHandler(TLSHandshakeTimeoutHandler(timeout: configuration.tlsHandshakeTimeout))
                        }
                        let connectionGuard = ConnectionGuardHandler(
                            idleTimeout: configuration.idleTimeout,
                            requestTimeout: configuration.requestHeaderTimeout,
                            bodyTimeout: configuration.requestBodyTimeout,
                            minBodyBytesPerSecond: configuration.minRequestBodyBytesPerSecond,
                            maxHeadBytes: configuration.maxHeaderBytes,
                            maxChunkExtensionBytes: configuration.maxChunkExtensionBytes)
                        try sync.addHandler(connectionGuard)
                        try sync.configureHTTPServerPipeline(
                            withPipeliningAssistance: false,
                            withServerUpgrade: nil,
                            withErrorHandling: false,
                            withOutboundHeaderValidation: true,
                            withEncoderConfiguration: .init(),
                            withDecoderLimitConfiguration: decoderLimits)
                        try sync.addHandler(RequestLifecycleObserver(reportingTo: connectionGuard))
                        let entry = registry.register(child, limit: configuration.maxConnections)
                        try sync.addHandler(
                            HTTPConnectionHandler(
                                configuration: configuration, responder: responder, entry: entry,
                                connectionGuard: connectionGuard,
                                executor: EventLoopTaskExecutor(child.eventLoop),
                                logger: logger))
                    }
                }
                .bind(host: configuration.host, port: configuration.port)
                .get()
        } catch {
            self.bound.fail(error)
            throw error
        }
        self.serverChannel.withLockedValue { $0 = channel }
        if let address = channel.localAddress {
            self.bound.succeed(address)
        }
        self.logger.info("listening", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])

        // Runs until the listening socket closes (draining, or cancellation), then until every connection has ended.
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                try? await channel.closeFuture.get()
                await self.registry.waitUntilEmpty()
            } onCancel: {
                channel.close(promise: nil)
                self.registry.closeAll()
            }
        } onGracefulShutdown: {
            self.beginDraining()
        }
    }
}
